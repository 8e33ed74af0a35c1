#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need (the example
# plugins' toolchains, the MongoDB test server, Prometheus, PostgreSQL, two CDC
# pipelines from PyPI, the wasm targets), checks formatting, lints and the Kubernetes
# manifests, builds the binary as the container image does, starts the server and
# runs every test against it. Set
# FORGE_TEST_URI to test against your own MongoDB instead (a real mongod or Atlas
# cluster). Arguments go to `cargo test` (e.g. a test name filter).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
step() { echo "== $* ($(date +%T), ${SECONDS}s)"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

step "toolchains of the example plugins"
scripts/plugin-toolchains.sh
step "Kubernetes manifests (offline, strict)"
scripts/validate-manifests.sh
if [ -z "${FORGE_TEST_URI:-}" ]; then
  step "test server"
  scripts/test-server.sh install
fi
step "prometheus (the --metrics-listen test scrapes a run with it)"
scripts/prometheus.sh
# The HTML report's test opens the page in a headless browser and looks at a screenshot.
if ! command -v chromium >/dev/null 2>&1; then
  step "chromium (apt)"
  as_root apt-get update -q >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null
fi

# The sink tests verify what a pipeline wrote to a PostgreSQL table: they start
# Debian's PostgreSQL themselves, on a loopback port, with TLS certificates that
# openssl makes (tests/e2e/support/postgres.rs; the package depends on openssl).
if ! command -v postgres >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 \
    || ! command -v openssl >/dev/null 2>&1; then
  step "postgresql, openssl (apt)"
  as_root apt-get update -q >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql openssl >/dev/null
fi

# Two third-party CDC pipelines from PyPI (pinned, in venvs) that the sink tests run
# between the test server and PostgreSQL or a MongoDB sink.
step "pipelines from PyPI"
export FORGE_PIPELINES="$PWD/target/pipelines"
scripts/pipelines.sh install "$FORGE_PIPELINES"

# The README's first command needs no wasm target: without one, the build embeds the
# committed built-in plugins (plugins/prebuilt/). Prove it where the target is missing.
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  step "first command without the wasm target"
  docs=$(cargo run --locked --quiet -- generate -n 3 --seed 1 | grep -c '"_id"' || true)
  [ "$docs" -eq 3 ] || { echo "forge generate printed $docs documents, not 3" >&2; exit 1; }
fi
rustup target add wasm32-wasip1 wasm32-wasip2 >/dev/null 2>&1 ||
  { echo "could not install the wasm targets with rustup" >&2; exit 1; }

step "fmt"
cargo fmt --all --check

# One build serves the lints and the tests: clippy's driver compiles the workspace's
# crates (as `cargo clippy` does) and emits their code too, so the test run that
# follows reuses it instead of building everything a second time.
step "build and clippy"
export RUSTC_WORKSPACE_WRAPPER
RUSTC_WORKSPACE_WRAPPER=$(rustup which clippy-driver)
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
cargo test --workspace --all-targets --locked --no-run --quiet

# The image's build step (deploy/Dockerfile), on the binary the tests just built.
step "distribution build (dev profile)"
dist=$(mktemp -d -t forge-dist.XXXXXX)
scripts/build-dist.sh --profile dev "$dist"
rm -rf "$dist"

if [ -z "${FORGE_TEST_URI:-}" ]; then
  server_dir=$(mktemp -d -t forge-test-server.XXXXXX)
  trap 'scripts/test-server.sh stop "$server_dir"; rm -rf "$server_dir"' EXIT
  FORGE_TEST_URI=$(scripts/test-server.sh start "$server_dir")
  export FORGE_TEST_URI
  echo "test server at $FORGE_TEST_URI"
fi

step "tests"
log=$(mktemp -t forge-test-log.XXXXXX)
set +e
cargo test --workspace --locked "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# The same CDC, mutate, verify and fault tests through the collection-level write
# commands (--bulk-api collection: the path for MongoDB before 8.0, DocumentDB, Cosmos
# DB); three crash rounds there, ten in the main pass.
step "tests through the collection-level write commands"
FORGE_BULK_API=collection FORGE_CRASH_ROUNDS=3 cargo test -p forge-engine --test e2e --locked -- cdc:: mutate:: verify:: faults:: 2>&1 | tee -a "$log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
set -e
# One closing line for the whole run (both passes): cargo prints one per test binary,
# and the last binary (doc-tests of a small crate) may have none to run.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "total: %d passed, %d failed\n", p, f }' "$log"
rm -f "$log"
step "done"
exit "$status"
