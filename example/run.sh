#!/usr/bin/env bash
# Quick start 1: installs what is missing, builds Zokio and its examples, runs hello_world, then
# starts the HTTP server example (Beast on Zokio) on a free port, serving this repository's
# doc/ directory, and sends it a few requests (JSON, a static file, pipelining, Prometheus
# metrics) before stopping it with SIGTERM (graceful drain). Exits 0 when every answer came.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/.ci/install_deps.sh"
zokio_install_deps
build="$root/build/release"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target hello_world http_server

echo "== hello_world"
"$build/example/hello_world"

echo
echo "== http_server (example/http_server.cpp): serving $root/doc on a free port"
out=$(mktemp)
"$build/example/http_server" --port 0 --root "$root/doc" --workers 2 > "$out" 2>&1 &
server=$!
trap 'kill -9 $server 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 100); do grep -q 'listening on' "$out" && break; sleep 0.1; done
port=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$out")
[ -n "$port" ] || { echo "the server did not start:"; cat "$out"; exit 1; }
# ask RAW: one connection, RAW sent, the answer printed (bash's /dev/tcp: no client needed).
ask() {
  exec 3<>"/dev/tcp/127.0.0.1/$port"
  printf '%b' "$1" >&3
  timeout 5 cat <&3
  exec 3<&-
}
echo "-- GET /api/hello"
hello=$(ask 'GET /api/hello HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n')
echo "$hello"
echo "$hello" | grep -q '"message":"hello from zokio"' || { echo "unexpected answer"; exit 1; }
echo
echo "-- GET /static/examples.md (first lines)"
ask 'GET /static/examples.md HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n' | head -12
echo "-- two pipelined requests on one connection: the status lines"
ask 'GET /api/stats HTTP/1.1\r\nHost: demo\r\n\r\nGET /nope HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n' | grep -a -o 'HTTP/1.1 [0-9]* [A-Za-z ]*'
echo "-- GET /metrics (Prometheus text, a few lines)"
ask 'GET /metrics HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n' | grep -a -m 6 '^zokio_\|^http_'
kill -TERM "$server"
wait "$server"
echo "-- the server's log (stopped with SIGTERM: graceful drain)"
cat "$out"
trap - EXIT
rm -f "$out"
echo "== done: see doc/examples.md for the other examples (WebSocket chat, file processor, TCP echo)"
