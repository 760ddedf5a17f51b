#!/usr/bin/env bash
# tools/gdb/zokio.py against test/tools/gdb_target.cpp (ctest gdb_zokio): gdb stops the program
# with 30 tasks waiting two frames deep, `zokio-tasks` must list all 30 with both await points.
# Reads memory only, as it would in a core file.
set -u
target=$1
script=$2
out=$(timeout 120 gdb -nx -batch -ex "handle SIGTRAP stop" -ex run -ex "source $script" -ex zokio-tasks \
      -ex kill "$target" 2>&1)
echo "$out" | grep -E "expect|runtime|task [0-9]" | head -5
expect=$(echo "$out" | sed -n 's/^expect inner \(.*\) outer \(.*\)$/\1 \2/p')
[ -n "$expect" ] || { echo "FAIL: the target did not start"; echo "$out" | tail -20; exit 1; }
set -- $expect
inner=$1 outer=$2
n_tasks=$(echo "$out" | grep -c '^task [0-9]* "gdb-demo", waiting, spawned at .*gdb_target.cpp:')
n_inner=$(echo "$out" | grep -c "^    at .*$inner\$")
n_outer=$(echo "$out" | grep -c "^    at .*$outer\$")
echo "gdb zokio-tasks: $n_tasks waiting tasks, $n_inner at $inner, $n_outer at $outer"
if [ "$n_tasks" -ne 30 ] || [ "$n_inner" -ne 30 ] || [ "$n_outer" -ne 30 ]; then
  echo "FAIL: expected 30 of each"
  echo "$out" | tail -30
  exit 1
fi
echo "gdb_zokio_test passed"
