#!/usr/bin/env bash
# Integration test of example/websocket_chat (ctest: example_websocket_chat): the server as a
# process on an ephemeral port, driven by example/websocket_chat_client and, for the plain HTTP
# answers, by raw requests through bash's /dev/tcp: a non-WebSocket GET (200 page, 426), bad
# upgrade targets (404), an upgrade (101), a slow reader dropped with 1008, a message over
# --max-message closed with 1009, the load client (8 clients x 200 messages, every message to
# every client, each sender's in order) after those drops, and the drain on SIGTERM (1001 to a
# connected client, exit 0 within the drain deadline, the summary line). Every step is bounded
# (timeout, the client's --timeout); the first failure ends the test.
set -u
server=$1
client=$2
d=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$d"; }
trap cleanup EXIT
trap 'exit 124' TERM INT
fail() { echo "FAIL: $*"; echo "--- server stdout"; tail -40 "$d/out"; echo "--- server stderr"; cat "$d/err"; exit 1; }

"$server" --port 0 --drain 3 --write-timeout 10 > "$d/out" 2> "$d/err" &
pid=$!
for _ in $(seq 50); do grep -q 'listening on' "$d/out" && break; sleep 0.1; done
port=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$d/out")
[ -n "$port" ] || fail "no port"

# req RAW: sends RAW on a new connection, prints what the server sends until it closes (2 s at most).
req() {
  exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
  printf '%b' "$1" >&3
  timeout 2 cat <&3
  exec 3<&-
}
status() { head -1 | tr -d '\r'; }
# first_line RAW: the first line of the answer only (an upgraded connection stays open).
first_line() {
  local line=
  exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
  printf '%b' "$1" >&3
  IFS= read -r -t 2 line <&3
  exec 3<&-
  printf '%s\n' "${line%$'\r'}"
}
upgrade='Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n'

# Plain HTTP: the page, 426 for a room without an upgrade, 404 for other targets.
[ "$(req "GET / HTTP/1.1\r\nHost: t\r\n\r\n" | status)" = "HTTP/1.1 200 OK" ] || fail "GET /"
got=$(req "GET /room/lobby HTTP/1.1\r\nHost: t\r\n\r\n")
[ "$(echo "$got" | status)" = "HTTP/1.1 426 Upgrade Required" ] || fail "GET /room/lobby without an upgrade: $(echo "$got" | status)"
echo "$got" | grep -qi '^Upgrade: websocket' || fail "426 without 'Upgrade: websocket'"
[ "$(req "GET /elsewhere HTTP/1.1\r\nHost: t\r\n\r\n" | status)" = "HTTP/1.1 404 Not Found" ] || fail "GET /elsewhere"
[ "$(req "GET /nope HTTP/1.1\r\nHost: t\r\n$upgrade\r\n" | status)" = "HTTP/1.1 404 Not Found" ] || fail "upgrade to /nope"
[ "$(req "GET /room/bad%20name HTTP/1.1\r\nHost: t\r\n$upgrade\r\n" | status)" = "HTTP/1.1 404 Not Found" ] || fail "upgrade to an invalid room name"
[ "$(first_line "GET /room/raw HTTP/1.1\r\nHost: t\r\n$upgrade\r\n")" = "HTTP/1.1 101 Switching Protocols" ] || fail "upgrade to /room/raw"

# A slow reader (SO_RCVBUF 4096, 2 s without reading while a second connection floods its
# room) is dropped with 1008 "too slow"; the write timeout (10 s) is longer than the pause.
timeout 20 "$client" --port "$port" --room slow --slow 2 --timeout 15 > "$d/slow" 2>&1; rc=$?
cat "$d/slow"
[ $rc -eq 0 ] || fail "slow reader: exit $rc"
grep -qx 'closed by server: code 1008 (too slow)' "$d/slow" || fail "slow reader: no 1008 close"
grep -q 'too slow' "$d/err" || fail "slow reader: the server did not log the drop"

# A message over --max-message (64 KiB) is closed with 1009.
timeout 15 "$client" --port "$port" --room big --oversize 100000 --timeout 10 > "$d/big" 2>&1; rc=$?
cat "$d/big"
[ $rc -eq 0 ] || fail "oversize: exit $rc"
grep -q '^closed by server: code 1009' "$d/big" || fail "oversize: no 1009 close"

# The load client: 8 clients x 200 messages, all to all, in order; the server is still
# healthy after the drops above.
timeout 25 "$client" --port "$port" --clients 8 --messages 200 --timeout 20 > "$d/load" 2>&1; rc=$?
cat "$d/load"
[ $rc -eq 0 ] || fail "load client: exit $rc"
grep -q '12800 deliveries in .* all in order' "$d/load" || fail "load client: no result line"

# Drain: a connected client gets a close frame with 1001 after SIGTERM; the server exits 0
# within the drain deadline (3 s) and prints its summary.
timeout 15 "$client" --port "$port" --room drain --wait-close 1001 --timeout 10 > "$d/drain" 2>&1 &
waiter=$!
for _ in $(seq 50); do grep -q 'joined room drain' "$d/drain" && break; sleep 0.1; done
grep -q 'joined room drain' "$d/drain" || fail "drain: the client did not join"
start=$(date +%s%N)
kill -TERM "$pid"
wait "$waiter"; rc=$?
cat "$d/drain"
[ $rc -eq 0 ] || fail "drain: the client exited $rc"
grep -q '^closed by server: code 1001' "$d/drain" || fail "drain: no 1001 close"
for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "the server still runs 6 s after SIGTERM"
wait "$pid"; rc=$?
pid=
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ $rc -eq 0 ] || fail "exit status $rc after SIGTERM"
[ $ms -lt 4500 ] || fail "exit $ms ms after SIGTERM, drain deadline 3 s"
grep -q 'websocket_chat: drained' "$d/err" || fail "no drain message"
grep -E 'websocket_chat: [0-9]+ connections, [0-9]+ messages, [0-9]+ deliveries; dropped: 1 too slow, 0 write timeouts, 1 too big; 0 errors' "$d/err" ||
  fail "no summary line, or unexpected counts"
echo "websocket_chat integration test passed"
