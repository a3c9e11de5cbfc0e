ARG BASE_IMAGE=debian:bookworm
ARG REGISTRY=docker.io
ARG TAG
FROM ${BASE_IMAGE} AS base
RUN echo base
FROM ${REGISTRY}/library/alpine:3.19 AS tools
FROM alpine:${TAG} AS tagged
FROM base
COPY --from=tools /bin/busybox /bin/busybox
CMD ["sh"]
