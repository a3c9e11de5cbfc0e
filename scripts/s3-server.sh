#!/bin/sh
# Local S3 API for the registry's S3 backend tests (moto in server mode).
#   scripts/s3-server.sh install        install moto_server (pip)
#   scripts/s3-server.sh start [PORT]   run it in the foreground on 127.0.0.1:PORT (default 9000)
# The registry test suites start moto_server themselves when it is on PATH.
set -eu
cmd=${1:-install}
case "$cmd" in
  install)
    if command -v moto_server >/dev/null 2>&1; then
      echo "moto_server already installed: $(command -v moto_server)"
    else
      python3 -m pip install --quiet 'moto[server]'
    fi
    ;;
  start)
    exec moto_server -H 127.0.0.1 -p "${2:-9000}"
    ;;
  *)
    echo "usage: $0 install | start [PORT]" >&2
    exit 2
    ;;
esac
