# syntax=docker/dockerfile:1.7
FROM ubuntu:22.04
RUN <<EOF
apt-get update
apt-get install -y curl
EOF
RUN <<-'SCRIPT' bash
	set -e
	echo "hello from bash"
SCRIPT
COPY <<EOF /etc/app.conf
key=value
EOF
RUN python3 <<PY
print("hi")
PY
WORKDIR /srv
CMD ["sleep", "infinity"]
