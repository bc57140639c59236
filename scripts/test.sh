#!/usr/bin/env bash
# Runs every test. Installs the peers the integration tests talk to
# (the FastAPI sample app's Python packages) when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -c "import fastapi, uvicorn, prometheus_fastapi_instrumentator" 2>/dev/null; then
  echo "installing the sample app's Python packages (fastapi, uvicorn, prometheus-fastapi-instrumentator)"
  python3 -m pip install --quiet --root-user-action=ignore fastapi uvicorn prometheus-fastapi-instrumentator
fi

if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
  echo "installing Debian's prometheus package (prometheus 2.42 and promtool, for the differential tests)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus
fi

cargo test --workspace
