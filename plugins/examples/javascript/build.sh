#!/bin/sh
# Builds build/order_status.wasm (a component, ~11 MB: it carries a JavaScript engine).
# componentize-js comes from npm, pinned by package-lock.json (see README.md).
set -eu
cd "$(dirname "$0")"
# npm ci only when node_modules is missing or older than the lock file.
[ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund --silent
mkdir -p build
# componentize-js takes a minute: skip it when the component is newer than its inputs.
out=build/order_status.wasm
if [ -f $out ] && [ -z "$(find plugin.js componentize.mjs package-lock.json ../../../plugin-sdk/wit -newer $out)" ]; then
  exit 0
fi
npm run --silent build
