#!/bin/bash
# Registry benchmark: strata's registry server vs Debian's docker-registry (distribution
# 2.8) on the same machine, same load generator, filesystem storage for both.
#   bench/registry/run.sh [SECONDS]   (default 15)
# Writes bench/results/registry.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-15}
OUT=bench/results/registry.md
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

cargo build --release -q -p strata-registry --example registry_serve --example registry_load
BIN=target/release/examples
LOAD=$BIN/registry_load

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 100); do curl -sf "http://127.0.0.1:$1/v2/" >/dev/null && return 0; sleep 0.1; done; echo "server on $1 did not start" >&2; exit 1; }
peak_rss_mib() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }

start_strata() {
  local port=$1 dir=$2
  printf 'addr = "127.0.0.1:%s"\n[storage]\npath = "%s"\n' "$port" "$dir" > "$WORK/strata.toml"
  RUST_LOG=warn $BIN/registry_serve "$WORK/strata.toml" >"$WORK/strata.log" 2>&1 &
}

start_distribution() {
  local port=$1 dir=$2
  cat > "$WORK/distribution.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: $dir
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
YML
  docker-registry serve "$WORK/distribution.yml" >"$WORK/distribution.log" 2>&1 &
}

declare -A RES RSS
for server in strata distribution; do
  port=$(free_port)
  dir="$WORK/$server-data"
  mkdir -p "$dir"
  start_$server "$port" "$dir"   # not in $(...): the server would hold its stdout open
  pid=$!
  wait_up "$port"
  url="http://127.0.0.1:$port"
  RES[$server,pull]=$($LOAD "$url" pull --clients 64 --seconds "$SECS")
  RES[$server,push]=$($LOAD "$url" push --clients 16 --seconds "$SECS")
  RES[$server,large]=$($LOAD "$url" large --clients 2 --size-mib 256)
  RSS[$server]=$(peak_rss_mib "$pid")
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
done

field() { python3 -c "import json,sys; v=json.loads(sys.argv[1])[sys.argv[2]]; print(f'{v:.1f}' if isinstance(v,float) else v)" "$1" "$2"; }

{
  echo "# Registry benchmark"
  echo
  echo "strata (\`registry serve\` code path, release build) vs Debian docker-registry $(dpkg-query -W -f='${Version}' docker-registry 2>/dev/null || echo '?')"
  echo "on the same machine ($(nproc) cores), filesystem storage, loopback HTTP, $(date -u +%Y-%m-%d)."
  echo "Load generator: crates/strata-registry/examples/registry_load.rs; script: bench/registry/run.sh ($SECS s per scenario)."
  echo
  echo "| scenario | server | requests/s | p50 ms | p99 ms | MiB/s |"
  echo "|---|---|---:|---:|---:|---:|"
  for sc in pull push large; do
    for server in strata distribution; do
      r=${RES[$server,$sc]}
      echo "| $sc | $server | $(field "$r" requests_per_sec) | $(field "$r" p50_ms) | $(field "$r" p99_ms) | $(field "$r" mib_per_sec) |"
    done
  done
  echo
  echo "| server | peak RSS MiB |"
  echo "|---|---:|"
  for server in strata distribution; do echo "| $server | ${RSS[$server]} |"; done
  echo
  echo "distribution runs with its in-memory blob descriptor cache (as Debian's default config), access log off;"
  echo "strata with RUST_LOG=warn. The machine is shared, so absolute numbers vary between runs; compare within one run."
  echo
  echo "Scenarios: **pull** = 64 clients GET a manifest then its three 16 KiB blobs, in a loop;"
  echo "**push** = 16 clients push small images (HEAD each blob, upload missing ones POST+PUT, PUT manifest), a 64 KiB base layer shared by all;"
  echo "**large** = 2 clients each upload (POST+PUT, never skipped) then download their own 256 MiB blob, in a loop; blobs are made before the clock starts (MiB/s counts both directions)."
} > "$OUT"
cat "$OUT"
