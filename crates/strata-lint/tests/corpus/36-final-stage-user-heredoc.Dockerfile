# syntax=docker/dockerfile:1
FROM debian:12 AS build
USER root
RUN <<EOF
set -e
apt-get update
apt-get install -y --no-install-recommends make=4.3-4.1
rm -rf /var/lib/apt/lists/*
EOF

FROM gcr.io/distroless/base-debian12:nonroot
COPY --from=build /usr/bin/make /usr/bin/make
USER 65532
ENTRYPOINT ["/usr/bin/make"]
