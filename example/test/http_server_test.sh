#!/usr/bin/env bash
# Integration test of example/http_server (ctest: example_http_server): the server as a
# process on an ephemeral port, driven through bash's /dev/tcp with raw requests (no client
# tool needed): routes, static files, JSON, pipelining, the limits and deadlines (431, 413,
# 408, 400, 503), /metrics, and the graceful drain on SIGTERM.
set -u
server=$1
d=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$d"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "--- server stdout"; cat "$d/out"; echo "--- server stderr"; cat "$d/err"; exit 1; }

mkdir -p "$d/www/sub" && printf 'static hello\n' > "$d/www/sub/a.txt"
"$server" --port 0 --root "$d/www" --header-timeout 1 --idle-timeout 2 --body-limit 100 \
  --max-connections 3 --drain 3 > "$d/out" 2> "$d/err" &
pid=$!
for _ in $(seq 100); do grep -q 'listening on' "$d/out" && break; sleep 0.1; done
port=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$d/out")
[ -n "$port" ] || fail "no port"

# req RAW: sends RAW on a new connection, prints everything the server sends until it closes.
req() {
  exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
  printf '%b' "$1" >&3
  timeout 5 cat <&3
  exec 3<&-
}
status() { head -1 | tr -d '\r'; }
close='Connection: close\r\n'

[ "$(req "GET /api/hello HTTP/1.1\r\nHost: t\r\n$close\r\n" | status)" = "HTTP/1.1 200 OK" ] || fail "GET /api/hello"
req "GET /api/hello HTTP/1.1\r\nHost: t\r\n$close\r\n" | grep -q '{"message":"hello from zokio"}' || fail "hello body"
req "GET /static/sub/a.txt HTTP/1.1\r\nHost: t\r\n$close\r\n" | grep -q '^static hello' || fail "static file"
[ "$(req "GET /static/../etc/passwd HTTP/1.1\r\nHost: t\r\n$close\r\n" | status)" = "HTTP/1.1 400 Bad Request" ] || fail "path escaping the root"
[ "$(req "GET /static/none HTTP/1.1\r\nHost: t\r\n$close\r\n" | status)" = "HTTP/1.1 404 Not Found" ] || fail "missing file"
[ "$(req "DELETE /api/hello HTTP/1.1\r\nHost: t\r\n$close\r\n" | status)" = "HTTP/1.1 405 Method Not Allowed" ] || fail "405"
req "POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 9\r\n$close\r\n{\"a\":[1]}" | grep -q '{"echo":{"a":\[1\]},"bytes":9}' || fail "JSON echo"
[ "$(req "POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n$close\r\n{bad" | status)" = "HTTP/1.1 400 Bad Request" ] || fail "invalid JSON"

# A handler that throws: 500, and the same connection keeps working.
codes=$(req "GET /api/fail HTTP/1.1\r\nHost: t\r\n\r\nGET /api/hello HTTP/1.1\r\nHost: t\r\n$close\r\n" | grep -a -o 'HTTP/1.1 [0-9]*' | tr '\n' ' ')
[ "$codes" = "HTTP/1.1 500 HTTP/1.1 200 " ] || fail "throwing handler: $codes"

# Pipelining: three requests in one write, three answers in order on one connection.
codes=$(req "GET /api/hello HTTP/1.1\r\nHost: t\r\n\r\nGET /nope HTTP/1.1\r\nHost: t\r\n\r\nGET /api/stats HTTP/1.1\r\nHost: t\r\n$close\r\n" | grep -a -o 'HTTP/1.1 [0-9]*' | tr '\n' ' ')
[ "$codes" = "HTTP/1.1 200 HTTP/1.1 404 HTTP/1.1 200 " ] || fail "pipelining: $codes"

# Limits and deadlines.
big=$(head -c 10000 /dev/zero | tr '\0' a)
[ "$(req "GET / HTTP/1.1\r\nHost: t\r\nX-Big: $big\r\n\r\n" | status)" = "HTTP/1.1 431 Request Header Fields Too Large" ] || fail "431"
[ "$(req "POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 500\r\n\r\n" | status)" = "HTTP/1.1 413 Payload Too Large" ] || fail "413"
[ "$(req "GET / HTTP/1.1\r\nHost: t\r\n" | status)" = "HTTP/1.1 408 Request Timeout" ] || fail "408 (header not finished in time)"
[ "$(req "GARBAGE\r\n\r\n" | status)" = "HTTP/1.1 400 Bad Request" ] || fail "400 (malformed)"
start=$(date +%s%N)
req "GET /api/hello HTTP/1.1\r\nHost: t\r\n\r\n" > /dev/null  # keep-alive: closed after the 2 s idle timeout
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ $ms -ge 1500 ] && [ $ms -lt 4500 ] || fail "idle keep-alive connection closed after $ms ms, expected about 2000"

# Malformed requests (issue 14, point 6): each gets 400, 413 or 431 and the server lives.
# "expected[;alternative]|raw request" (printf %b escapes; \0 is a NUL byte). Body limit: 100.
# Bare LF line ends: Beast 1.81 answers "bad version" when the whole request is in the buffer
# at its first look, but once it has asked for more it only looks for CRLFCRLF, so the same
# bytes arriving in two reads wait for the header deadline: 400 or 408, both seen here.
while IFS='|' read -r want raw; do
  [ -n "$want" ] || continue
  got=$(req "$raw" | status)
  case ";$want;" in
    *";$got;"*) ;;
    *) fail "malformed request '$raw': got '$got', expected '$want'" ;;
  esac
done <<'EOF_CASES'
HTTP/1.1 400 Bad Request|G@T / HTTP/1.1\r\nHost: t\r\n\r\n
HTTP/1.1 400 Bad Request;HTTP/1.1 408 Request Timeout|GET / HTTP/1.1\nHost: t\n\n
HTTP/1.1 400 Bad Request|GET / HTTP/9.9\r\nHost: t\r\n\r\n
HTTP/1.1 400 Bad Request|POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n
HTTP/1.1 400 Bad Request|POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n
HTTP/1.1 400 Bad Request|POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}
HTTP/1.1 400 Bad Request|POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n
HTTP/1.1 400 Bad Request|POST /api/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n
HTTP/1.1 413 Payload Too Large|POST /api/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n200\r\n
HTTP/1.1 400 Bad Request|GET /\0 HTTP/1.1\r\nHost: t\r\n\r\n
HTTP/1.1 400 Bad Request|GET / HTTP/1.1\r\nHo\0st: t\r\n\r\n
HTTP/1.1 400 Bad Request|GET / HTTP/1.1\r\nHost: t\r\nX: a\0b\r\n\r\n
HTTP/1.1 413 Payload Too Large|POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999\r\n\r\n
EOF_CASES
big=$(head -c 9000 /dev/zero | tr '\0' b)
[ "$(req "GET / HTTP/1.1\r\nHost: t\r\nX-Big: $big\r\n\r\n" | status)" = "HTTP/1.1 431 Request Header Fields Too Large" ] || fail "431 for an 8 KiB+ header"
# Pipelined garbage after a good request: the good one is answered, then 400, then close.
codes=$(req "GET /api/hello HTTP/1.1\r\nHost: t\r\n\r\n\x01\x02garbage\r\n\r\n" | grep -a -o 'HTTP/1.1 [0-9]*' | tr '\n' ' ')
[ "$codes" = "HTTP/1.1 200 HTTP/1.1 400 " ] || fail "pipelined garbage: $codes"
[ "$(req "GET /api/hello HTTP/1.1\r\nHost: t\r\n$close\r\n" | status)" = "HTTP/1.1 200 OK" ] || fail "alive after the malformed requests"

# /metrics (Prometheus text).
m=$(req "GET /metrics HTTP/1.1\r\nHost: t\r\n$close\r\n")
echo "$m" | grep -q '^# TYPE zokio_worker_polls_total counter' || fail "metrics: worker polls"
echo "$m" | grep -q '^http_requests_total{code="2xx"} [1-9]' || fail "metrics: request counter"
echo "$m" | grep -q '^zokio_worker_busy_seconds_total{' || fail "metrics: busy time"
if echo "$m" | grep -q 'poll_duration'; then fail "metrics: latency histograms without --debug-endpoints"; fi
# The debug endpoints are off unless asked for (below).
[ "$(req "GET /debug/tasks HTTP/1.1\r\nHost: t\r\n$close\r\n" | status)" = "HTTP/1.1 404 Not Found" ] || fail "/debug without --debug-endpoints"

# Connection cap (3): three keep-alive connections idle after one request (open for the 2 s
# idle timeout); a fourth connection gets 503 while they are open.
holders=()
for i in 1 2 3; do
  (exec 4<>"/dev/tcp/127.0.0.1/$port"; printf 'GET /api/hello HTTP/1.1\r\nHost: t\r\n\r\n' >&4; sleep 1.8) &
  holders+=($!)
done
got=
for _ in $(seq 15); do
  sleep 0.1
  got=$(req "GET / HTTP/1.1\r\nHost: t\r\n$close\r\n" | status)
  [ "$got" = "HTTP/1.1 503 Service Unavailable" ] && break
done
[ "$got" = "HTTP/1.1 503 Service Unavailable" ] || fail "503 over the connection cap: $got"
wait "${holders[@]}"

# Drain: SIGTERM while a connection is between requests; its next request is still answered,
# with Connection: close; the server exits 0 and says it drained.
exec 5<>"/dev/tcp/127.0.0.1/$port"
sleep 0.2
kill -TERM "$pid"
sleep 0.3
printf 'GET /api/hello HTTP/1.1\r\nHost: t\r\n\r\n' >&5
answer=$(timeout 5 cat <&5)
exec 5<&-
echo "$answer" | grep -q '^HTTP/1.1 200 OK' || fail "drain: in-flight request not answered"
echo "$answer" | grep -qi '^Connection: close' || fail "drain: answer without Connection: close"
wait "$pid"; rc=$?
pid=
[ $rc -eq 0 ] || fail "exit status $rc after SIGTERM"
grep -q 'http_server: drained' "$d/err" || fail "no drain message"

# --debug-endpoints (issue 15): the task dump (JSON and text), the flight recorder's trace,
# a deliberate 300 ms block that the stall watchdog (--stall-ms 100) reports, and the dump on
# SIGUSR1.
"$server" --port 0 --quiet --debug-endpoints --stall-ms 100 > "$d/out" 2> "$d/err" &
pid=$!
for _ in $(seq 100); do grep -q 'listening on' "$d/out" && break; sleep 0.1; done
port=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$d/out")
[ -n "$port" ] || fail "no port (debug server)"
req "GET /debug/tasks HTTP/1.1\r\nHost: t\r\n$close\r\n" | grep -q '"name":"session","spawned_at":{"file":"[^"]*http_server.cpp"' || fail "/debug/tasks: no session task"
# The dump is a snapshot: the accept loop ("serve") that took this very connection may still
# be running (spawning the session) when a second worker has already run the session's dump,
# so it is asked a few times for a moment when serve waits in accept.
ok=
for _ in $(seq 20); do
  req "GET /debug/tasks?text HTTP/1.1\r\nHost: t\r\n$close\r\n" | grep -q '"serve", waiting' && { ok=1; break; }
  sleep 0.05
done
[ -n "$ok" ] || fail "/debug/tasks?text: no waiting serve task"
req "GET /debug/trace HTTP/1.1\r\nHost: t\r\n$close\r\n" | grep -q '"traceEvents":\[' || fail "/debug/trace"
req "GET /debug/stall?ms=300 HTTP/1.1\r\nHost: t\r\n$close\r\n" | grep -q 'blocked a worker for 300 ms' || fail "/debug/stall"
for _ in $(seq 20); do grep -q 'zokio: stall: .*"session"' "$d/err" && break; sleep 0.1; done
grep -q 'zokio: stall: .*"session"' "$d/err" || fail "no stall report for the blocked session"
# The blocked poll is in the poll-duration histogram's last bucket (268 ms and more).
req "GET /metrics HTTP/1.1\r\nHost: t\r\n$close\r\n" | awk '
  /^zokio_worker_poll_duration_seconds_bucket/ {
    match($0, /worker="[0-9]+"/); w = substr($0, RSTART, RLENGTH)
    if ($0 ~ /le="0.268435456"/) below[w] = $2
    if ($0 ~ /le="\+Inf"/) all[w] = $2
  }
  END { for (w in all) if (all[w] > below[w]) found = 1; exit !found }' ||
  fail "metrics: the 300 ms poll is not in the poll-duration histogram's last bucket"
kill -USR1 "$pid"
for _ in $(seq 20); do grep -q 'zokio task dump: ' "$d/err" && break; sleep 0.1; done
grep -q 'zokio task dump: ' "$d/err" || fail "no task dump on SIGUSR1"
kill -TERM "$pid"
wait "$pid"; rc=$?
pid=
[ $rc -eq 0 ] || fail "exit status $rc after SIGTERM (debug server)"
echo "http_server integration test passed"
