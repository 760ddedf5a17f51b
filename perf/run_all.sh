#!/usr/bin/env bash
# The `benchmark` build target: runs every benchmark in perf/ one after the other (nothing else
# should run meanwhile), keeps each log, and writes one summary (Markdown): per benchmark its
# exit status, wall time and the lines that state a ratio or a target (each benchmark prints
# Zokio against plain Asio or oneTBB in the same run). Machine, commit and date on top.
#
# Usage: perf/run_all.sh BUILD_DIR [--quick]
#   full (default, about 15 minutes on 2 vCPUs): each benchmark's default samples, plus the
#     HTTP comparisons under wrk (perf/http_beast.sh, perf/http_server.sh; wrk is installed
#     from Debian if missing);
#   --quick (about 2 minutes; CI's benchmark_smoke test): one or two samples each, small sizes,
#     no wrk runs: checks that every benchmark runs and its results are right, not speed.
# Output: BUILD_DIR/benchmark/<name>.log and BUILD_DIR/benchmark/summary.md (also printed),
#   and SVG charts of the ratios there (perf/plot.py) when python3-matplotlib is installed (a full
#   run installs it from Debian if missing; --quick skips the charts then).
# Exit status: 1 if a benchmark failed (a wrong result, a hang, a crash), else 0; targets not
# met do not fail it (they are in the summary as NOT MET).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: perf/run_all.sh BUILD_DIR [--quick]}
build=$(cd "$build" && pwd)
quick=0
[ "${2:-}" = "--quick" ] && quick=1
out="$build/benchmark"
mkdir -p "$out"
summary="$out/summary.md"
bin="$build/perf"

# name | full arguments | quick arguments
benches=(
  "perf_scheduler||--samples 2"
  "perf_alloc||--samples 2"
  "perf_forkjoin||--quick --samples 1"
  "perf_nested_await||--samples 2"
  "perf_trace||--samples 2"
  "perf_spawn_outside||3"
  "perf_false_sharing||--samples 2"
  "perf_tcp_echo||--samples 1 --only round_trips --quick"
  "perf_tcp_echo_uring||--samples 1 --only round_trips --quick"
  "perf_tcp_program||--samples 1 --only round_trips --quick"
  "perf_tcp_program_uring||--samples 1 --only round_trips --quick"
  "perf_file_processor||1"
)
for src in "$root"/perf/toolkit/*_bench.cpp; do
  b=$(basename "$src" _bench.cpp)
  benches+=("perf_$b||--samples $([ "$b" = mpsc ] && echo 1 || echo 2)")
done

{
  echo "# Zokio benchmarks ($([ $quick = 1 ] && echo quick || echo full) run)"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "- machine: $(nproc) cpus, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
  echo "- ratios are within one run (setups interleaved); compare ratios, not absolute times"
  echo
} > "$summary"

failed=0
run_one() {  # name, log, command...
  local name=$1 log=$2
  shift 2
  local t0=$(date +%s.%N) rc
  "$@" > "$log" 2>&1
  rc=$?
  local secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  {
    echo "## $name"
    echo
    printf -- '- exit status %d, %s s, log: %s\n\n' "$rc" "$secs" "${log#$build/}"
    echo '```'
    # The lines that carry a verdict: ratios, speed-ups, targets.
    grep -aE '([0-9.]+x\b|MET|speed-up|ratio)' "$log" | grep -avE '^\s*round [0-9]' | head -60
    echo '```'
    echo
  } >> "$summary"
  if [ $rc -ne 0 ]; then
    failed=1
    echo "benchmark: $name FAILED (exit status $rc, see $log)" >&2
  else
    echo "benchmark: $name done (${secs%.*} s)" >&2
  fi
}

for entry in "${benches[@]}"; do
  IFS='|' read -r name full_args quick_args <<< "$entry"
  [ -x "$bin/$name" ] || { echo "benchmark: $name not built, skipped" >&2; continue; }
  args=$full_args
  [ $quick = 1 ] && args=$quick_args
  # shellcheck disable=SC2086
  run_one "$name" "$out/$name.log" "$bin/$name" $args
done
if [ $quick = 0 ]; then
  run_one "http_beast (wrk)" "$out/http_beast.log" bash "$root/perf/http_beast.sh" "$build" 3
  run_one "http_server (wrk)" "$out/http_server.log" bash "$root/perf/http_server.sh" "$build" 3
fi

# Charts (perf/plot.py: SVGs next to the logs) if matplotlib imports, from PATH's python3 or
# Debian's (the package installs for /usr/bin/python3 only). A full run installs it as
# perf/http_server.sh installs wrk; a plot failure does not change the exit status.
py=
for p in python3 /usr/bin/python3; do
  "$p" -c 'import matplotlib' 2> /dev/null && { py=$p; break; }
done
if [ -z "$py" ] && [ $quick = 0 ]; then
  apt-get install -y -qq python3-matplotlib > /dev/null && /usr/bin/python3 -c 'import matplotlib' && py=/usr/bin/python3
fi
if [ -z "$py" ]; then
  echo "plots skipped: python3-matplotlib not installed" >&2
else
  charts=$("$py" "$root/perf/plot.py" "$out" | while read -r f; do printf '%s, ' "${f#"$build"/}"; done)
  if [ -n "$charts" ]; then
    printf '## Charts\n\n- perf/plot.py wrote %s\n' "${charts%, }" >> "$summary"
  else
    echo "benchmark: perf/plot.py wrote no chart" >&2
  fi
fi

cat "$summary"
echo "benchmark: summary in $summary" >&2
exit $failed
