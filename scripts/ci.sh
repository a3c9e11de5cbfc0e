#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it: setup, formatting, lints, every test.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export STRATA_CI=1   # tests that need a peer tool fail instead of skipping when it is missing

# A private dockerd (no iptables, no bridge) for the docker interop tests.
export BENCH_TMP="$PWD/target/ci-docker"
source bench/common.sh
docker_up
trap docker_down EXIT
export STRATA_DOCKER_TESTS=1

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo nextest run --workspace --locked --no-fail-fast
