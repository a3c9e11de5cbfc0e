FROM alpine:3.19
RUN wget -qO- https://example.com/install.sh | sh
SHELL ["/bin/ash", "-eo", "pipefail", "-c"]
RUN wget -qO- https://example.com/install.sh | sh
FROM debian:12-slim
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN curl -fsSL https://example.com | bash -
