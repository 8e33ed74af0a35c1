#!/bin/sh
# Builds build/c_stamp.wasm (a component). Needs Debian's clang, lld and wasi-libc, and
# wit-bindgen-cli and wasm-tools from crates.io (see README.md).
set -eu
cd "$(dirname "$0")"
mkdir -p build/gen
wit-bindgen c --world mutator-plugin --out-dir build/gen ../../../plugin-sdk/wit
clang --target=wasm32-wasi -O2 -nostartfiles -Wl,--no-entry -Wl,--export-dynamic \
    -I build/gen plugin.c build/gen/mutator_plugin.c build/gen/mutator_plugin_component_type.o \
    -o build/c_stamp.core.wasm
wasm-tools component new build/c_stamp.core.wasm -o build/c_stamp.wasm
