#!/usr/bin/env bash
# Builds the forge binary (--locked) in a cargo profile, copies it to OUTDIR and
# smoke-tests the copy: `forge --version`, and `forge generate -n 3 --seed 1` printing
# three documents. deploy/Dockerfile builds its image with it (release); scripts/test.sh
# runs it with the dev profile, on the binary its test build has just compiled.
#
#   scripts/build-dist.sh [--profile release|dev] OUTDIR
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

usage() { echo "usage: scripts/build-dist.sh [--profile release|dev] OUTDIR" >&2; exit 2; }
profile=release
out=
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) [ $# -ge 2 ] || usage; profile=$2; shift 2 ;;
    --profile=*) profile=${1#--profile=}; shift ;;
    -h|--help) usage ;;
    -*) echo "build-dist.sh: unknown option $1" >&2; usage ;;
    *) [ -z "$out" ] || usage; out=$1; shift ;;
  esac
done
[ -n "$out" ] || usage
case "$profile" in
  release|dev) ;;
  *) echo "build-dist.sh: --profile must be release or dev, not '$profile'" >&2; exit 2 ;;
esac

# dev: the binary as the test build (`cargo test --workspace --all-targets`) makes it,
# which in CI has just been built, so nothing compiles. Built alone, the binary would
# get other features for a few dependencies (the tests' dev-dependencies and the other
# workspace members add some) and compile cranelift and wasmtime again: many minutes.
if [ "$profile" = dev ]; then
  build=(cargo test --locked --workspace --all-targets --no-run)
else
  build=(cargo build --locked --profile "$profile" -p forge-engine --bin forge)
fi
# Cargo names the file it built (wherever CARGO_TARGET_DIR or a config puts it) in its
# JSON messages; diagnostics still go to stderr as text.
messages=$("${build[@]}" --message-format=json-render-diagnostics)
executable=$(grep '"reason":"compiler-artifact"' <<<"$messages" |
  grep -o '"executable":"[^"]*/forge"' | tail -n 1 | sed 's/^"executable":"//; s/"$//' || true)
if [ -z "$executable" ] || [ ! -x "$executable" ]; then
  echo "build-dist.sh: cargo did not report the forge binary it built" >&2
  exit 1
fi

mkdir -p "$out"
out=$(cd "$out" && pwd)
cp "$executable" "$out/forge.tmp"
mv -f "$out/forge.tmp" "$out/forge"

# The copy on its own, away from the source tree.
cd "$out"
version=$(./forge --version)
case "$version" in
  "forge "*) ;;
  *) echo "build-dist.sh: $out/forge --version printed '$version'" >&2; exit 1 ;;
esac
docs=$(./forge generate -n 3 --seed 1 --quiet | grep -c '"_id"' || true)
[ "$docs" -eq 3 ] || { echo "build-dist.sh: $out/forge generate -n 3 --seed 1 printed $docs documents, not 3" >&2; exit 1; }
echo "$version ($profile profile): $out/forge"
