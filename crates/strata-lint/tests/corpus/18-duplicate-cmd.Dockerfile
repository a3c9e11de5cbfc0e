FROM busybox:1.36
CMD ["echo", "one"]
ENTRYPOINT ["/bin/sh"]
CMD ["echo", "two"]
ENTRYPOINT ["/bin/ash"]
HEALTHCHECK CMD true
HEALTHCHECK CMD false
EXPOSE 8080 70000
