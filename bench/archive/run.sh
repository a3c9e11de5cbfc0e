#!/usr/bin/env bash
# save/load benchmark: strata vs Debian's docker 20.10 on the same ~580 MB two-layer image.
# Usage: bench/archive/run.sh [RUNS] [--no-x4] [--tools strata,docker]
# Writes bench/results/archive.md. dockerd is a private one (its own data root under
# target/bench/archive/docker) so that no layer is shared with other benchmarks' images.
set -euo pipefail
BENCH_TMP="$(cd "$(dirname "$0")/../.." && pwd)/target/bench/archive"
export BENCH_TMP
source "$(dirname "$0")/../common.sh"
RUNS="${1:-3}"
shift || true
bench_setup
docker_up
trap docker_down EXIT
# A private copy: the shared target/release/strata may be rebuilt while the benchmark runs.
cp "$STRATA" "$BENCH_TMP/strata"
python3 "$ROOT/bench/archive/bench.py" --strata "$BENCH_TMP/strata" --runs "$RUNS" \
  --debian "$(debian_tarball)" --work "$BENCH_TMP/work" --build-work "$ROOT/target/bench/build" \
  --out "$ROOT/bench/results/archive.md" "$@"
