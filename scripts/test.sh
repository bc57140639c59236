#!/usr/bin/env bash
# Runs every test. Installs the peers the integration tests talk to when
# they are missing: the sample app's Python packages, Debian's prometheus
# (2.42 and promtool, for the differential tests), prometheus-alertmanager,
# victoria-metrics (remote write receiver), nftables (the network fault
# tests drop packets with it), chromium (the web UI test drives it headless) and the UI test's npm
# packages.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
APT_UPDATED=""

# need_deb COMMAND PACKAGE: installs PACKAGE when COMMAND is not on PATH.
need_deb() {
  command -v "$1" >/dev/null && return 0
  echo "installing Debian's $2 package"
  if [ -z "$APT_UPDATED" ]; then
    $SUDO apt-get update -qq
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$2"
}

if ! python3 -c "import fastapi, uvicorn, prometheus_fastapi_instrumentator" 2>/dev/null; then
  echo "installing the sample app's Python packages (fastapi, uvicorn, prometheus-fastapi-instrumentator)"
  python3 -m pip install --quiet --root-user-action=ignore fastapi uvicorn prometheus-fastapi-instrumentator
fi

if ! python3 -c "import kubernetes" 2>/dev/null; then
  echo "installing the official Kubernetes Python client (checks the API stand-in of the tests)"
  python3 -m pip install --quiet --root-user-action=ignore kubernetes
fi

if ! python3 -c "import docker" 2>/dev/null; then
  echo "installing the official Docker SDK for Python (checks the Docker Engine stand-in of the tests)"
  python3 -m pip install --quiet --root-user-action=ignore docker
fi

if ! python3 -c "import opentelemetry.sdk, opentelemetry.exporter.otlp.proto.http" 2>/dev/null; then
  echo "installing the OpenTelemetry Python SDK and its OTLP HTTP exporter (a real OTLP client for the tests)"
  python3 -m pip install --quiet --root-user-action=ignore opentelemetry-sdk opentelemetry-exporter-otlp-proto-http
fi

if ! python3 -c "import boto3" 2>/dev/null; then
  echo "installing boto3 (checks the AWS stand-in of the tests)"
  python3 -m pip install --quiet --root-user-action=ignore boto3
fi

need_deb prometheus prometheus
need_deb promtool prometheus
need_deb prometheus-alertmanager prometheus-alertmanager
need_deb victoria-metrics victoria-metrics
need_deb nft nftables
[ -n "${FLINT_CHROMIUM:-}" ] || need_deb chromium chromium

if [ ! -d tests/ui/node_modules/playwright-core ]; then
  echo "installing the web UI test's npm packages (playwright-core, in tests/ui)"
  (cd tests/ui && npm ci --no-audit --no-fund)
fi

if cargo fmt --version >/dev/null 2>&1; then
  cargo fmt --all -- --check
else
  echo "rustfmt is not installed: skipping the formatting check"
fi
if cargo clippy --version >/dev/null 2>&1; then
  cargo clippy --workspace --all-targets -- -D warnings
else
  echo "clippy is not installed: skipping the lint check"
fi
cargo test --workspace
# the scale tests last and on their own (100,000 series in this debug
# build): their minutes of load would make other tests' timing flaky
cargo test -p flint --test integration -- --ignored scale_faults
