FROM debian:12
COPY app.tar.gz /tmp/app.tar.gz
RUN tar -xzf /tmp/app.tar.gz -C /opt && rm /tmp/app.tar.gz
ADD config /etc/config
ADD https://example.com/file.txt /tmp/
ADD vendor.tar.xz /opt/vendor/
ADD one two /opt
CMD ["/opt/app/run"]
