FROM alpine:3.19 AS Build
RUN echo one
FROM alpine:3.19 as build
RUN echo two
FROM alpine:3.19 AS context
COPY --from=context /etc/hostname /x
