#!/usr/bin/env bash
# Runs perf_http_beast (Boost.Beast's async HTTP server) under `wrk -t1 -c50`, one server
# process per setup (zokio, asio_pool, asio_1ctx2thr, asio_ctx_per_thread), RUNS rounds with
# the setup order rotated per round, and prints one table (perf/http_beast_summary.py): per
# setup the median requests/s (wrk) and server CPU microseconds per request (getrusage of the
# server process / responses it wrote), Zokio's ratios to each Asio setup and to the best one,
# and every run's values.
#
# Usage: perf/http_beast.sh [BUILD_DIR] [RUNS]     (defaults: build/release, 5)
# Environment: HTTP_BEAST_DURATION  seconds of wrk load per setup and round (default 5)
#              HTTP_BEAST_PORT      server port (default 0: any free port, read from the server)
# Each server is stopped with SIGTERM as soon as wrk is done, so its CPU time covers the load
# and little idle time (it would stop by itself DURATION + 60 s after starting).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build/release}
runs=${2:-5}
duration=${HTTP_BEAST_DURATION:-5}
port=${HTTP_BEAST_PORT:-0}
bin=$build/perf/perf_http_beast

if [[ ! -x $bin ]]; then
  echo "http_beast.sh: $bin not found; build it first (ninja -C $build perf_http_beast)" >&2
  exit 1
fi
if ! command -v wrk > /dev/null; then
  echo "http_beast.sh: wrk is not installed; installing Debian's package: apt-get install -y wrk" >&2
  if ! apt-get install -y wrk >&2; then
    echo "http_beast.sh: could not install wrk; install it (apt-get install wrk) and rerun" >&2
    exit 1
  fi
fi

setups=(zokio asio_pool asio_1ctx2thr asio_ctx_per_thread zokio_pinned)
out=$(mktemp -d)
server_pid=
cleanup() { if [[ -n $server_pid ]]; then kill -TERM "$server_pid" 2> /dev/null || true; fi; }
trap cleanup EXIT

echo "perf_http_beast: wrk -t1 -c50 -d${duration}s, $runs rounds, logs in $out" >&2
for r in $(seq 1 "$runs"); do
  order=()
  for k in "${!setups[@]}"; do order+=("${setups[(k + r - 1) % ${#setups[@]}]}"); done
  for s in "${order[@]}"; do
    log=$out/run$r-$s
    "$bin" --setup "$s" --port "$port" --seconds $((duration + 60)) > "$log.server" 2> "$log.err" &
    server_pid=$!
    # Wait for "listening setup=... port=P" (the server prints it once it accepts).
    p=
    for _ in $(seq 1 100); do
      p=$(sed -n 's/^listening .*port=\([0-9]*\).*/\1/p' "$log.server")
      [[ -n $p ]] && break
      if ! kill -0 "$server_pid" 2> /dev/null; then break; fi
      sleep 0.1
    done
    if [[ -z $p ]]; then
      echo "http_beast.sh: $s did not start listening:" >&2
      cat "$log.err" >&2
      exit 1
    fi
    wrk -t1 -c50 -d"${duration}s" "http://127.0.0.1:$p/" > "$log.wrk" 2>&1 || {
      echo "http_beast.sh: wrk failed against $s:" >&2
      cat "$log.wrk" >&2
      exit 1
    }
    kill -TERM "$server_pid"
    wait "$server_pid" || { echo "http_beast.sh: $s exited with $?" >&2; cat "$log.err" >&2; exit 1; }
    server_pid=
  done
  echo "${order[*]}" > "$out/order$r"
  echo "round $r/$runs done (order: ${order[*]})" >&2
done
python3 "$root/perf/http_beast_summary.py" "$out"
echo "(raw logs in $out)"
