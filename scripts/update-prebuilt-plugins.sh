#!/usr/bin/env bash
# Rebuilds the built-in plugins from their sources and refreshes the copies committed in
# plugins/prebuilt/, which a checkout without the wasm32-wasip2 target embeds. Run it
# after changing plugins/<built-in> or plugin-sdk/; the unit test
# plugin::builtin::tests fails until the committed copies match the sources.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
rustup target add wasm32-wasip2 >/dev/null
FORGE_BUILTIN_PLUGINS=source cargo build --quiet --locked -p forge-engine
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
mkdir -p plugins/prebuilt
for name in regenerate partial increment lifecycle drift array tombstone remove keep; do
  cp "$target_dir/forge-plugins/wasm32-wasip2/plugin/forge_plugin_$name.wasm" "plugins/prebuilt/$name.wasm"
done
ls -l plugins/prebuilt
