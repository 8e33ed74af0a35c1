#!/bin/sh
# Builds build/zig_touch.wasm (a core module). Zig comes from PyPI: pip install ziglang
set -eu
cd "$(dirname "$0")"
mkdir -p build
python3 -m ziglang build-exe plugin.zig -target wasm32-freestanding -fno-entry -rdynamic -O ReleaseSmall \
    -femit-bin=build/zig_touch.wasm
