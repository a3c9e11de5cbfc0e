# syntax=docker/dockerfile:1
FROM python:3.12 AS deps
RUN --mount=type=cache,target=/root/.cache/pip pip install requests
RUN --mount=from=deps,source=/usr/local,target=/mnt ls /mnt
RUN --mount=type=secret,id=npmrc,target=/root/.npmrc --mount=type=ssh echo ok
FROM python:3.12-slim
RUN --mount=from=deps,source=/root/.cache,target=/root/.cache pip install --no-cache-dir six==1.16.0
CMD ["python"]
