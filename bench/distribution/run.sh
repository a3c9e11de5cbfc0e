#!/usr/bin/env bash
# Distribution benchmark: strata push/pull against docker and skopeo, to a local docker-registry.
# Usage: bench/distribution/run.sh [SIZE_MB] [RUNS]
#   SIZE_MB  size of the generated image (default 384): half random (incompressible),
#            half base64 text (compressible), in one uncompressed layer as strata stores it.
#   RUNS     repetitions per measurement, median reported (default 3).
# Env: STRATA=path to the strata binary (default: target/release/strata, built if missing);
#      OUT=results file (default bench/results/distribution.md).
# Writes bench/results/distribution.md (keeping its "## Notes" section). Every push goes to a
# fresh registry and every pull into an empty store / destination (docker: after removing the
# image), so nothing is skipped or mounted. docker runs against a private dockerd (common.sh's
# docker_up, own data root under target/bench/distribution); its memory is the daemon's peak
# RSS during the operation (VmHWM, reset through /proc/PID/clear_refs before each one).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
SIZE_MB="${1:-384}"
RUNS="${2:-3}"
WORK="$ROOT/target/bench/distribution"
OUT="${OUT:-$ROOT/bench/results/distribution.md}"
if [ -z "${STRATA:-}" ]; then
  (cd "$ROOT" && cargo build --release -q -p strata-cli)
  STRATA="$ROOT/target/release/strata"
fi
for t in docker-registry skopeo /usr/bin/time /usr/bin/docker dockerd; do
  command -v "$t" >/dev/null || { echo "missing $t" >&2; exit 1; }
done
rm -rf "$WORK"; mkdir -p "$WORK"
export DOCKER_CONFIG="$WORK/docker-config"
# Private dockerd: its own data root, so the timed pulls start from nothing.
BENCH_TMP="$WORK"
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
DOCKER=/usr/bin/docker
docker_up
DOCKERD_PID=$(cat "$BENCH_TMP/docker/dockerd.pid")

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
# docker gets the identical image (same layer bytes, same config) through a docker-archive.
"$STRATA" --root "$SRC_STORE" save -o "$WORK/image.tar" bench:big
"$DOCKER" load -q -i "$WORK/image.tar" >/dev/null
rm -f "$WORK/image.tar"

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
trap 'stop_registry; docker_down' EXIT

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

# measure_docker NAME CMD...: like measure, but the work happens in dockerd, so the memory
# recorded is the daemon's peak RSS over the command (reset to the current RSS first).
measure_docker() {
  local name="$1"; shift
  echo 5 >"/proc/$DOCKERD_PID/clear_refs"
  measure "$name" "$@"
  local hwm
  hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$DOCKERD_PID/status")
  sed -i "\$s/ [0-9]*\$/ $hwm/" "$WORK/samples.txt"
}

# docker_retag FROM TO: move the bench image's only tag, so that later removing the tag
# removes the image and its layers.
docker_retag() {
  "$DOCKER" tag "$1" "$2"
  "$DOCKER" rmi "$1" >/dev/null
}

# Flush the generated image to disk first, so its writeback does not land in the first push.
sync
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
    if [ "$comp" = gzip ]; then
      # docker 20.10 always pushes gzip; it has no zstd push.
      start_registry
      docker_retag bench:big "$REG/bench/big:$comp"
      measure_docker "push-docker-$comp" "$DOCKER" push -q "$REG/bench/big:$comp"
      docker_retag "$REG/bench/big:$comp" bench:big
    fi
    start_registry
    measure "push-skopeo-$comp" skopeo copy -q --dest-tls-verify=false --dest-compress \
      --dest-compress-format "$comp" "oci:$WORK/oci-src:big" "docker://$REG/bench/big:$comp"
    # pull: from a registry holding skopeo's push, into an empty store / oci dir.
    rm -rf "$WORK/pull-store" "$WORK/pull-oci"
    measure "pull-strata-$comp" "$STRATA" --root "$WORK/pull-store" pull -q "$REG/bench/big:$comp"
    measure "pull-skopeo-$comp" skopeo copy -q --src-tls-verify=false \
      "docker://$REG/bench/big:$comp" "oci:$WORK/pull-oci:big"
    rm -rf "$WORK/pull-store" "$WORK/pull-oci"
    # docker pull of the same blobs: the image is removed first, so every layer downloads
    # and extracts into the graph driver (that extraction is part of docker pull). docker
    # 20.10 cannot pull zstd layers either ("archive/tar: invalid tar header").
    if [ "$comp" = gzip ]; then
      "$DOCKER" rmi bench:big >/dev/null
      [ -z "$("$DOCKER" images -q)" ] || { echo "dockerd still holds images" >&2; exit 1; }
      measure_docker "pull-docker-$comp" "$DOCKER" pull -q "$REG/bench/big:$comp"
      docker_retag "$REG/bench/big:$comp" bench:big
    fi
  done
done
stop_registry

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
python3 - "$WORK/samples.txt" "$OUT" "$SIZE_MB" "$RUNS" "$STRATA" "$LOAD_BEFORE" "$LOAD_AFTER" <<'PY'
import statistics, sys, collections, platform, subprocess, os
samples, out, size, runs, strata, load0, load1 = sys.argv[1:]
d = collections.defaultdict(list)
for line in open(samples):
    name, wall, rss = line.split()
    d[name].append((float(wall), int(rss)))
def med(name):
    v = d.get(name)
    if not v:
        return None, None
    return statistics.median(w for w, _ in v), max(r for _, r in v) / 1024
def num(x, fmt):
    return "—" if x is None else format(x, fmt)
rows = []
for op in ("push", "pull"):
    for comp in ("gzip", "zstd"):
        s, srss = med(f"{op}-strata-{comp}")
        dk, drss = med(f"{op}-docker-{comp}")
        k, krss = med(f"{op}-skopeo-{comp}")
        rd = None if dk is None else s / dk
        rows.append(f"| {op} | {comp} | {s:.2f} | {num(dk, '.2f')} | **{num(rd, '.2f')}** "
                    f"| {k:.2f} | {s/k:.2f} | {srss:.0f} | {num(drss, '.0f')} | {krss:.0f} |")
def version(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
sk = version("skopeo", "--version")
dv = version("/usr/bin/docker", "version", "--format", "{{.Server.Version}}")
notes = ""
if os.path.exists(out):
    old = open(out).read()
    if "\n## Notes" in old:
        notes = old[old.index("\n## Notes"):]
with open(out, "w") as f:
    f.write(f"""# Distribution benchmark

`bench/distribution/run.sh {size} {runs}`: one generated image of {size} MB in a single
uncompressed layer (half random bytes, half base64 text), pushed to and pulled from a local
Debian `docker-registry` (distribution 2.8) over loopback. Every push goes to a fresh registry
and every pull into an empty destination, so nothing is skipped or mounted.

- **push**: strata from its store (compressing on the fly); docker {dv} (Debian docker.io,
  private dockerd) from the same image, loaded with `docker load` of `strata save`, so it
  pushes identical content; skopeo ({sk}) from the same image as an OCI layout with
  `--dest-compress`. docker 20.10 always pushes gzip and has no zstd push, hence "—".
- **pull**: all three fetch the same blobs (skopeo's push): strata into an empty store, docker
  after `docker rmi` of the image (its pull includes extracting into the graph driver),
  skopeo into an OCI layout. docker 20.10 cannot pull zstd layers (the pull fails with
  "archive/tar: invalid tar header"), hence "—".

Median wall seconds of {runs} run(s); peak RSS (max over runs) from `/usr/bin/time -v`, for
docker the dockerd daemon's peak RSS during the operation (the client does no work).
Machine: {platform.machine()}, 2 cores, shared; binary `{strata}`; load average {load0}
before, {load1} after (other work on the machine skews absolute times; all tools ran
interleaved under the same load). Targets: push ≤ 0.25× docker, pull ≤ 0.5× docker.

| op | compression | strata s | docker s | strata/docker | skopeo s | strata/skopeo | strata RSS MiB | dockerd RSS MiB | skopeo RSS MiB |
|---|---|---:|---:|---:|---:|---:|---:|---:|---:|
""" + "\n".join(rows) + "\n" + notes)
print(open(out).read())
PY
