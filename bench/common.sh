#!/usr/bin/env bash
# Shared by the benchmarks: install the peers, build strata in release mode, start dockerd.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH_TMP="${BENCH_TMP:-$ROOT/target/bench}"
mkdir -p "$BENCH_TMP"

bench_setup() {
  "$ROOT/scripts/setup.sh" >/dev/null
  local need=()
  for p in docker.io buildah containerd hyperfine time; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
  done
  if ((${#need[@]})); then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
  fi
  (cd "$ROOT" && cargo build --release -q -p strata-cli)
  STRATA="$ROOT/target/release/strata"
  export STRATA
}

# Start a private dockerd (no iptables, no bridge) unless one answers already.
DOCKER_SOCK="$BENCH_TMP/docker/docker.sock"
docker_up() {
  export DOCKER_HOST="unix://$DOCKER_SOCK"
  if /usr/bin/docker info >/dev/null 2>&1; then return; fi
  mkdir -p "$BENCH_TMP/docker"
  dockerd --iptables=false --bridge=none --data-root "$BENCH_TMP/docker/data" \
    --exec-root "$BENCH_TMP/docker/exec" --pidfile "$BENCH_TMP/docker/dockerd.pid" \
    -H "$DOCKER_HOST" >"$BENCH_TMP/docker/dockerd.log" 2>&1 &
  for _ in $(seq 120); do /usr/bin/docker info >/dev/null 2>&1 && return; sleep 0.5; done
  echo "dockerd did not start; see $BENCH_TMP/docker/dockerd.log" >&2; exit 1
}

# Stop the private dockerd and wait until it has exited, so a next docker_up on the same
# data root does not race its shutdown.
docker_down() {
  local pidfile="$BENCH_TMP/docker/dockerd.pid" pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.5; done
  kill -9 "$pid" 2>/dev/null || true
}

# The Debian minbase rootfs tarball the tests cache (built by debootstrap on first use).
debian_tarball() {
  local t="$ROOT/target/fixtures/debian-bookworm-minbase.tar"
  if [ ! -f "$t" ]; then
    local work="$BENCH_TMP/debootstrap"; rm -rf "$work"
    debootstrap --variant=minbase bookworm "$work" http://deb.debian.org/debian >/dev/null
    mkdir -p "$(dirname "$t")"
    tar --numeric-owner --xattrs --sort=name -C "$work" -cf "$t.tmp" . && mv "$t.tmp" "$t"
    rm -rf "$work"
  fi
  echo "$t"
}
