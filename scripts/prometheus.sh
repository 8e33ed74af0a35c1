#!/usr/bin/env bash
# Prometheus for the --metrics-listen end-to-end test (tests/e2e/prometheus.rs), which
# starts its own server on a free loopback port: Debian's package, installed only if
# `prometheus` is not on PATH. The package's own service is stopped and disabled where
# systemd started it: it would scrape and listen on :9090 for nothing.
set -euo pipefail

if command -v prometheus >/dev/null 2>&1; then
  exit 0
fi
echo "installing prometheus (Debian package)..." >&2
sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
if [ -d /run/systemd/system ]; then
  $sudo systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
command -v prometheus >/dev/null 2>&1 || { echo "prometheus is not on PATH after installing it" >&2; exit 1; }
