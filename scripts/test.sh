#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need (the wasm
# targets, the example plugins' toolchains, the MongoDB test server), checks formatting
# and lints, starts the server and runs every test against it. Set FORGE_TEST_URI to test against your own MongoDB
# instead (a real mongod or Atlas cluster).
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="$HOME/.cargo/bin:$PATH"
rustup target add wasm32-wasip1 wasm32-wasip2 >/dev/null 2>&1 ||
  { echo "could not install the wasm targets with rustup" >&2; exit 1; }
scripts/plugin-toolchains.sh

echo "== fmt and clippy"
cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

if [ -z "${FORGE_TEST_URI:-}" ]; then
  scripts/test-server.sh install
  server_dir=$(mktemp -d -t forge-test-server.XXXXXX)
  trap 'scripts/test-server.sh stop "$server_dir"; rm -rf "$server_dir"' EXIT
  FORGE_TEST_URI=$(scripts/test-server.sh start "$server_dir")
  export FORGE_TEST_URI
  echo "== test server at $FORGE_TEST_URI"
fi

echo "== tests"
log=$(mktemp -t forge-test-log.XXXXXX)
set +e
cargo test --workspace "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line for the whole run: cargo prints one per test binary, and the last
# binary (doc-tests of a small crate) may have none to run.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "total: %d passed, %d failed\n", p, f }' "$log"
rm -f "$log"
exit "$status"
