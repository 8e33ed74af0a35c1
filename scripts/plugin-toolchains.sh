#!/usr/bin/env bash
# Installs what the example plugins in plugins/examples build with, each only if it is
# missing: Debian's clang, lld and wasi-libc (C), wit-bindgen-cli and wasm-tools from
# crates.io (C component), Zig and componentize-py from PyPI. AssemblyScript comes from
# npm in its build.sh.
set -euo pipefail
export PATH="$HOME/.cargo/bin:$PATH"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v clang >/dev/null || ! command -v wasm-ld >/dev/null || [ ! -f /usr/lib/wasm32-wasi/libc.a ]; then
  echo "== installing clang, lld, wasi-libc (apt)"
  as_root apt-get update -q >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q clang lld wasi-libc >/dev/null
fi
if ! python3 -m ziglang version >/dev/null 2>&1; then
  echo "== installing zig (pip ziglang)"
  python3 -m pip install -q ziglang
fi
if ! componentize-py --version 2>/dev/null | grep -q '0.25.1'; then
  echo "== installing componentize-py 0.25.1 (pip)"
  python3 -m pip install -q componentize-py==0.25.1
fi
if ! wit-bindgen --version 2>/dev/null | grep -q '^wit-bindgen-cli 0.46'; then
  echo "== installing wit-bindgen-cli 0.46.0 (cargo install, a few minutes)"
  cargo install -q --locked wit-bindgen-cli@0.46.0
fi
if ! command -v wasm-tools >/dev/null; then
  echo "== installing wasm-tools 1.240.0 (cargo install, a few minutes)"
  cargo install -q --locked wasm-tools@1.240.0
fi
command -v npm >/dev/null || { echo "npm is needed for the AssemblyScript example" >&2; exit 1; }
