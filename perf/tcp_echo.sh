#!/usr/bin/env bash
# Runs perf_tcp_echo (sockets on epoll) and perf_tcp_echo_uring (sockets on io_uring)
# alternately RUNS times and prints one table: medians over runs, and per-run ratios, where a
# "run" is one epoll run plus the io_uring run right after it.
# Usage: perf/tcp_echo.sh [BUILD_DIR] [RUNS] [extra perf_tcp_echo options...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build/release}
runs=${2:-5}
shift $(( $# > 2 ? 2 : $# ))
out=$(mktemp -d)
for i in $(seq 1 "$runs"); do
  "$build/perf/perf_tcp_echo" --samples 5 "$@" > "$out/epoll-$i.log"
  "$build/perf/perf_tcp_echo_uring" --samples 5 "$@" > "$out/uring-$i.log"
  cat "$out/epoll-$i.log" "$out/uring-$i.log" > "$out/run-$i.log"
  echo "run $i/$runs done" >&2
done
python3 "$root/perf/summarize.py" "$out"/run-*.log
echo "(raw logs in $out)"
