#!/usr/bin/env bash
# Code size and symbols of the footprint_hello programs (perf/footprint_hello.cpp) of a CMake
# build directory: what each compile-time feature of runtime_config adds to a program.
# Usage: perf/footprint.sh [BUILD_DIR]   (default build/release, configured with
# ZOKIO_BUILD_PERF=ON; the programs are built here, they are not part of `all`).
set -euo pipefail
build=${1:-build/release}
variants=(0 1 2 3 4 5 6)
names=("every feature off" "+ work stealing" "+ LIFO slot" "+ NUMA placement" "+ metrics"
       "all four" "- I/O driver")
ninja -C "$build" $(printf 'footprint_hello_%s ' "${variants[@]}") > /dev/null
# Functions (ours, out of line) that only a feature's code reaches, by feature.
declare -A pattern=(
  [stealing]='::search\(|steal_into|note_first_steal'
  [lifo]='take_lifo|swap_lifo|push_spawned|spill_spawned'
  [numa]='place_on_nodes|topology::resolve|topology::discover|bind_current_thread'
  [io]='io_context|epoll_reactor|run_io|restart_io|io_uring_service'
)
# Metrics add no function of their own (the counter updates are inline): see the .text column.
features=(stealing lifo numa io)
base_text=
printf '%-20s %9s %8s %8s' "program" ".text" "vs off" "symbols"
for f in "${features[@]}"; do printf ' %9s' "$f"; done
printf '\n'
for v in "${variants[@]}"; do
  bin="$build/perf/footprint_hello_$v"
  "$bin" > /dev/null
  text=$(size -A "$bin" | awk '$1 == ".text" {print $2}')
  [ -z "$base_text" ] && base_text=$text
  syms=$(nm -C "$bin" | grep -c ' [TtWw] ' || true)
  printf '%-20s %9s %+8d %8s' "${names[$v]}" "$text" $((text - base_text)) "$syms"
  for f in "${features[@]}"; do
    printf ' %9s' "$(nm -C "$bin" | grep ' [TtWw] ' | grep -cE "${pattern[$f]}" || true)"
  done
  printf '\n'
done
echo "(feature columns: functions of ours only that feature's code calls, and for io Asio's"
echo " io_context machinery; .text in bytes; '- I/O driver': every feature off, the I/O driver"
echo " too, which the other rows have)"
