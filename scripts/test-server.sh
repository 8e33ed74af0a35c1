#!/usr/bin/env bash
# The MongoDB-compatible test server (SecantusDB's secantusd-rs; ARCHITECTURE.md, "The test server").
#
#   scripts/test-server.sh install      install it, only if secantusd-rs is not on PATH
#   scripts/test-server.sh start DIR    start it on a free loopback port with its data in
#                                       DIR; prints the connection URI; pid in DIR/server.pid
#   scripts/test-server.sh stop DIR     stop the server started with DIR
set -euo pipefail

SECANTUS_VERSION=0.5.3-beta.196

install() {
  if command -v secantusd-rs >/dev/null 2>&1; then
    return 0
  fi
  echo "installing secantusd-rs $SECANTUS_VERSION (a few minutes on 2 cores)..." >&2
  if ! command -v cmake >/dev/null 2>&1 || ! dpkg -s zlib1g-dev >/dev/null 2>&1; then
    # Its WiredTiger build needs them.
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cmake zlib1g-dev >/dev/null
  fi
  # Pinned: the crate ships no lockfile. It declares a newer Rust than it needs.
  cargo install secantus-mdb --version "$SECANTUS_VERSION" --ignore-rust-version --quiet
}

start() {
  local dir=$1
  mkdir -p "$dir/data"
  command -v secantusd-rs >/dev/null 2>&1 || { echo "secantusd-rs is not installed: run $0 install" >&2; exit 1; }
  # The change-stream history is raised so that long CDC tests see every event.
  setsid secantusd-rs --host 127.0.0.1 --port 0 --storage-path "$dir/data" \
    --cache-size 256M --log-file-max 16MB --log-level WARNING \
    --oplog-max-entries 2000000 >"$dir/server.out" 2>"$dir/server.err" </dev/null &
  echo $! >"$dir/server.pid"
  for _ in $(seq 1 200); do
    local port
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/server.out" | head -n 1)
    if [ -n "$port" ]; then
      echo "mongodb://127.0.0.1:$port/"
      return 0
    fi
    if ! kill -0 "$(cat "$dir/server.pid")" 2>/dev/null; then
      echo "secantusd-rs exited at start-up:" >&2
      cat "$dir/server.err" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "secantusd-rs did not report a port within 20 s" >&2
  exit 1
}

stop() {
  local dir=$1 pid
  pid=$(cat "$dir/server.pid" 2>/dev/null) || return 0
  kill "$pid" 2>/dev/null || return 0
  # It takes 1-4 s to stop after SIGTERM.
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
}

case "${1:-}" in
  install) install ;;
  start) start "${2:?usage: $0 start DIR}" ;;
  stop) stop "${2:?usage: $0 stop DIR}" ;;
  *) echo "usage: $0 install | start DIR | stop DIR" >&2; exit 2 ;;
esac
