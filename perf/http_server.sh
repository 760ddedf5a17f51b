#!/usr/bin/env bash
# example/http_server (Zokio-style, GET /plaintext) against Beast's async server on plain Asio
# (perf_http_beast's asio setups, same 13-byte text/plain answer) under `wrk -t1 -c50`, one
# server process per setup and round, setup order rotated per round. Prints per setup the
# median requests/s and server CPU microseconds per request (utime + stime of the server
# process from /proc, over the requests wrk counted), and http_server's ratio to the best
# Asio setup. Usage: perf/http_server.sh BUILD_DIR [RUNS]   (HTTP_DURATION: seconds, default 5)
set -euo pipefail
build=${1:?usage: perf/http_server.sh BUILD_DIR [RUNS]}
runs=${2:-5}
duration=${HTTP_DURATION:-5}
command -v wrk > /dev/null || apt-get install -y -qq wrk > /dev/null
out=$(mktemp -d)
tick=$(getconf CLK_TCK)
setups=(http_server asio_pool asio_1ctx2thr asio_ctx_per_thread)
pid=
trap '[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; true' EXIT
for r in $(seq 1 "$runs"); do
  for k in "${!setups[@]}"; do
    s=${setups[(k + r - 1) % ${#setups[@]}]}
    if [ "$s" = http_server ]; then
      "$build/example/http_server" --port 0 --workers 2 --quiet > "$out/srv" 2>&1 &
      pid=$!; pat='s/.*listening on [0-9.]*:\([0-9]*\).*/\1/p'; path=/plaintext
    else
      "$build/perf/perf_http_beast" --setup "$s" --port 0 --seconds $((duration + 60)) > "$out/srv" 2>&1 &
      pid=$!; pat='s/^listening .*port=\([0-9]*\).*/\1/p'; path=/
    fi
    p=
    for _ in $(seq 100); do p=$(sed -n "$pat" "$out/srv"); [ -n "$p" ] && break; sleep 0.1; done
    [ -n "$p" ] || { echo "$s did not start"; cat "$out/srv"; exit 1; }
    cpu0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    wrk -t1 -c50 -d"${duration}s" "http://127.0.0.1:$p$path" > "$out/wrk"
    cpu1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    kill -TERM "$pid"; wait "$pid" || true; pid=
    reqs=$(awk '/requests in/ {print $1}' "$out/wrk")
    rps=$(awk '/Requests\/sec/ {print $2}' "$out/wrk")
    echo "$s $rps $(awk -v c=$((cpu1 - cpu0)) -v t="$tick" -v n="$reqs" 'BEGIN {printf "%.2f", c / t * 1e6 / n}')" >> "$out/results"
  done
  echo "round $r/$runs done" >&2
done
python3 - "$out/results" <<'PY'
import sys, statistics, collections
d = collections.defaultdict(lambda: ([], []))
for line in open(sys.argv[1]):
    s, rps, cpu = line.split()
    d[s][0].append(float(rps)); d[s][1].append(float(cpu))
print(f"{'setup':22s} {'req/s (median)':>15s} {'server cpu us/req':>18s}   runs")
for s, (r, c) in d.items():
    print(f"{s:22s} {statistics.median(r):15.0f} {statistics.median(c):18.2f}   {len(r)}")
best = max((statistics.median(d[s][0]), s) for s in d if s != "http_server")
z = statistics.median(d["http_server"][0])
cbest = min((statistics.median(d[s][1]), s) for s in d if s != "http_server")
zc = statistics.median(d["http_server"][1])
print(f"http_server / best plain Asio ({best[1]}): {z / best[0]:.2f}x requests/s; "
      f"cpu per request {zc / cbest[0]:.2f}x the lowest ({cbest[1]})")
PY
rm -rf "$out"
