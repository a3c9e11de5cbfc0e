#!/usr/bin/env bash
# strata analyze vs dive --ci on the W1 image and a 20-layer image, same run.
# Usage: bench/analyze/run.sh [RUNS]   (median of RUNS, default 5)
set -euo pipefail
source "$(dirname "$0")/../common.sh"
RUNS="${1:-5}"
bench_setup
W1_CONTEXT="${W1_CONTEXT:-$BENCH_TMP/build/w1-x1}" \
python3 "$ROOT/bench/analyze/bench.py" --strata "$STRATA" --dive "$ROOT/target/venv/bin/dive" \
  --runs "$RUNS" --debian "$(debian_tarball)" --work "$BENCH_TMP/analyze" \
  --out "$ROOT/bench/results/analyze.md"
