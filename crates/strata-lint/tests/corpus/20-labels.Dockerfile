FROM alpine:3.19
LABEL org.opencontainers.image.source="https://github.com/example/app" \
      org.opencontainers.image.licenses="MIT" \
      com.docker.extension.api-version=">=0.3"
LABEL version=1.0 description="an app"
ENTRYPOINT ["/bin/true"]
