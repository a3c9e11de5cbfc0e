#!/usr/bin/env bash
# W1 and W2 build benchmarks: strata vs BuildKit (Debian's docker 20.10) vs buildah, same run.
# Usage: bench/build/run.sh [RUNS] [SCALE]   (SCALE multiplies W1's context size; default 1)
set -euo pipefail
source "$(dirname "$0")/../common.sh"
RUNS="${1:-3}"
SCALE="${2:-1}"
bench_setup
docker_up
trap docker_down EXIT
python3 "$ROOT/bench/build/bench.py" --strata "$STRATA" --runs "$RUNS" --scale "$SCALE" \
  --debian "$(debian_tarball)" --work "$BENCH_TMP/build" --out "$ROOT/bench/results/build.md"
