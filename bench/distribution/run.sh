#!/usr/bin/env bash
# Distribution benchmark: strata push/pull against skopeo, to a local docker-registry.
# Usage: bench/distribution/run.sh [SIZE_MB] [RUNS]
#   SIZE_MB  size of the generated image (default 384): half random (incompressible),
#            half base64 text (compressible), in one uncompressed layer as strata stores it.
#   RUNS     repetitions per measurement, median reported (default 3).
# Env: STRATA=path to the strata binary (default: target/release/strata, built if missing).
# Writes bench/distribution/results.md. Every measurement gets a fresh registry and, for
# pulls, an empty store / destination, so nothing is skipped or mounted.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
SIZE_MB="${1:-384}"
RUNS="${2:-3}"
WORK="$ROOT/target/bench/distribution"
OUT="$ROOT/bench/distribution/results.md"
if [ -z "${STRATA:-}" ]; then
  (cd "$ROOT" && cargo build --release -q -p strata-cli)
  STRATA="$ROOT/target/release/strata"
fi
for t in docker-registry skopeo /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "missing $t" >&2; exit 1; }
done
rm -rf "$WORK"; mkdir -p "$WORK"
export DOCKER_CONFIG="$WORK/docker-config"

# --- the image -------------------------------------------------------------------------
SRC_STORE="$WORK/src-store"
mkdir -p "$WORK/rootfs/data"
half=$((SIZE_MB / 2))
head -c "$((half * 1024 * 1024))" /dev/urandom >"$WORK/rootfs/data/random.bin"
head -c "$((half * 1024 * 1024 * 3 / 4))" /dev/urandom | base64 >"$WORK/rootfs/data/text.b64"
tar -C "$WORK/rootfs" -cf "$WORK/rootfs.tar" .
"$STRATA" --root "$SRC_STORE" import "$WORK/rootfs.tar" bench:big >/dev/null
"$STRATA" --root "$SRC_STORE" save --format oci-dir -o "$WORK/oci-src" bench:big
rm -rf "$WORK/rootfs"

# --- registry per measurement ----------------------------------------------------------
REG_PID=""
start_registry() {
  stop_registry
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  rm -rf "$WORK/reg"; mkdir -p "$WORK/reg"
  cat >"$WORK/reg/config.yml" <<YML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $WORK/reg/data}}
http: {addr: 127.0.0.1:$port}
YML
  docker-registry serve "$WORK/reg/config.yml" >"$WORK/reg/log" 2>&1 &
  REG_PID=$!
  REG="127.0.0.1:$port"
  for _ in $(seq 100); do
    curl -fsS "http://$REG/v2/" >/dev/null 2>&1 && return
    sleep 0.1
  done
  echo "docker-registry did not start" >&2; exit 1
}
stop_registry() {
  if [ -n "$REG_PID" ]; then kill "$REG_PID" 2>/dev/null || true; wait "$REG_PID" 2>/dev/null || true; REG_PID=""; fi
}
trap stop_registry EXIT

# measure NAME CMD...: appends "seconds rss_kb" for one run.
measure() {
  local name="$1"; shift
  /usr/bin/time -v -o "$WORK/time.txt" "$@" >/dev/null 2>"$WORK/cmd.err" || {
    cat "$WORK/cmd.err" >&2; echo "$name failed" >&2; exit 1; }
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$WORK/time.txt" |
    awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.txt")
  echo "$name $wall $rss" >>"$WORK/samples.txt"
}

: >"$WORK/samples.txt"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for run in $(seq "$RUNS"); do
  for comp in gzip zstd; do
    # push: strata from its store; skopeo from the same image as an OCI layout.
    # strata push needs the image tagged with the registry name.
    start_registry
    "$STRATA" --root "$SRC_STORE" tag bench:big "$REG/bench/big:$comp"
    measure "push-strata-$comp" "$STRATA" --root "$SRC_STORE" push -q \
      --compression-format "$comp" "$REG/bench/big:$comp"
    start_registry
    measure "push-skopeo-$comp" skopeo copy -q --dest-tls-verify=false --dest-compress \
      --dest-compress-format "$comp" "oci:$WORK/oci-src:big" "docker://$REG/bench/big:$comp"
    # pull: from a registry holding skopeo's push, into an empty store / oci dir.
    rm -rf "$WORK/pull-store" "$WORK/pull-oci"
    measure "pull-strata-$comp" "$STRATA" --root "$WORK/pull-store" pull -q "$REG/bench/big:$comp"
    measure "pull-skopeo-$comp" skopeo copy -q --src-tls-verify=false \
      "docker://$REG/bench/big:$comp" "oci:$WORK/pull-oci:big"
    rm -rf "$WORK/pull-store" "$WORK/pull-oci"
  done
done
stop_registry

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
python3 - "$WORK/samples.txt" "$OUT" "$SIZE_MB" "$RUNS" "$STRATA" "$LOAD_BEFORE" "$LOAD_AFTER" <<'PY'
import statistics, sys, collections, platform, subprocess
samples, out, size, runs, strata, load0, load1 = sys.argv[1:]
d = collections.defaultdict(list)
for line in open(samples):
    name, wall, rss = line.split()
    d[name].append((float(wall), int(rss)))
def med(name):
    v = d[name]
    return statistics.median(w for w, _ in v), max(r for _, r in v) / 1024
rows = []
for op in ("push", "pull"):
    for comp in ("gzip", "zstd"):
        s, srss = med(f"{op}-strata-{comp}")
        k, krss = med(f"{op}-skopeo-{comp}")
        rows.append(f"| {op} | {comp} | {s:.2f} | {k:.2f} | {s/k:.2f} | {srss:.0f} | {krss:.0f} |")
sk = subprocess.run(["skopeo", "--version"], capture_output=True, text=True).stdout.strip()
with open(out, "w") as f:
    f.write(f"""# Distribution benchmark

`bench/distribution/run.sh {size} {runs}`: one generated image of {size} MB in a single
uncompressed layer (half random bytes, half base64 text), pushed to and pulled from a local
Debian `docker-registry` (distribution 2.8), fresh registry and empty destination for every
measurement. strata pushes from its store (compressing on the fly); skopeo ({sk}) pushes
the same image from an OCI layout with `--dest-compress`. Pulls fetch skopeo's push: strata
into an empty store, skopeo into an OCI layout. Median wall seconds of {runs} runs, peak RSS
(max over runs) from `/usr/bin/time -v`. Machine: {platform.machine()}, 2 cores; binary
`{strata}`; load average {load0} before, {load1} after (other work on the machine skews
absolute times; both tools ran interleaved under the same load).

| op | compression | strata s | skopeo s | ratio | strata RSS MiB | skopeo RSS MiB |
|---|---|---|---|---|---|---|
""" + "\n".join(rows) + "\n")
print(open(out).read())
PY
