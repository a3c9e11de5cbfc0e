ARG REGISTRY=registry.example.com
ARG BUILDER=build
ARG PKG=requests==2.31.0
FROM ${REGISTRY}/golang:1.22 AS build
RUN echo build
FROM debian:12 AS Tools
USER root
RUN echo tools
FROM ${REGISTRY}/base:1 AS base
COPY --from=${BUILDER} /x /x
COPY --from=tools /y /y
RUN pip install --no-cache-dir $PKG
RUN --mount=from=build,source=/out,target=/mnt cp /mnt/app /app
FROM base
USER 1000
