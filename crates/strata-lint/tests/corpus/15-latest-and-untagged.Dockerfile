FROM ubuntu:latest
MAINTAINER someone@example.com
RUN apt update && apt install -y htop
RUN cd /tmp && wget http://example.com/file.tar.gz
USER root
