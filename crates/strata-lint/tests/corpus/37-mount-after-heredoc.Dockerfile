# syntax=docker/dockerfile:1
FROM debian:12 AS base
RUN <<EOF
echo one
EOF
RUN --mount=type=cache,target=/var/cache/apt --mount=type=cache,target=/var/lib/apt apt-get update && apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u5
FROM base
RUN --mount=from=base,source=/etc,target=/mnt/etc cat /mnt/etc/os-release
CMD ["bash"]
