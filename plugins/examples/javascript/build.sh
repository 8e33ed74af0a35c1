#!/bin/sh
# Builds build/order_status.wasm (a component, ~11 MB: it carries a JavaScript engine).
# componentize-js comes from npm, pinned by package-lock.json (see README.md).
set -eu
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --silent
mkdir -p build
npm run --silent build
