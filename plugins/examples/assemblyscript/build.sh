#!/bin/sh
# Builds build/as_archive.wasm (a core module). AssemblyScript comes from npm.
set -eu
cd "$(dirname "$0")"
# npm ci only when node_modules is missing or older than the lock file.
[ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund --silent
mkdir -p build
npm run --silent build
