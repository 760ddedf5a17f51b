#!/usr/bin/env bash
# Runs every toolkit benchmark (perf/toolkit/*_bench.cpp: timers, mpsc, mutex, fibers) RUNS
# times, one after the other in one go, and prints each target line (ratio = plain Asio time /
# Zokio time, medians inside each run) with its median over the runs.
# Usage: perf/toolkit.sh [BUILD_DIR] [RUNS] [extra options for every benchmark...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build/release}
runs=${2:-3}
shift $(( $# > 2 ? 2 : $# ))
out=$(mktemp -d)
benches=$(cd "$root/perf/toolkit" && ls ./*_bench.cpp | sed 's|./\(.*\)_bench.cpp|perf_\1|')
for i in $(seq 1 "$runs"); do
  for b in $benches; do
    "$build/perf/$b" "$@" > "$out/$b-$i.log" 2>&1 || echo "$b run $i FAILED (see $out/$b-$i.log)" >&2
  done
  echo "run $i/$runs done" >&2
done
python3 - "$out" $benches <<'PY'
import re, statistics, sys, collections
out, benches = sys.argv[1], sys.argv[2:]
for b in benches:
    ratios = collections.defaultdict(list)
    import glob
    for f in sorted(glob.glob(f"{out}/{b}-*.log")):
        for line in open(f):
            m = re.match(r"\s*(.+?): ([\d.]+)x \(target >= ([\d.]+)x\)", line)
            if m:
                ratios[(m.group(1), float(m.group(3)))].append(float(m.group(2)))
    print(f"== {b}")
    if not ratios:
        print("  (no target lines: see the logs)")
    for (label, target), rs in ratios.items():
        med = statistics.median(rs)
        runs = " ".join(f"{r:.2f}x" for r in rs)
        print(f"  {label}: median {med:.2f}x over {len(rs)} runs ({runs}); target >= {target:.1f}x "
              f"{'met' if med >= target else 'NOT met'}")
PY
echo "(raw logs in $out)"
