#!/usr/bin/env python3
"""Summarizes several perf_scheduler logs into one Markdown table.

Usage: perf/summarize.py run1.log run2.log ...  (each log is one full perf_scheduler run)

For every (workload, setup): the median over runs of the per-run medians, with the min-max of
those medians. Ratios are computed per run (asio median / zokio median, both from that run),
then their median over runs is printed: a run's setups are interleaved, so a ratio within a run
is far less noisy than a ratio of numbers from different runs.
"""
import re
import statistics
import sys

UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
ROW = re.compile(r"^\s{2}(\S.*?)\s{2,}([\d.]+) (ns|us|ms|s)\s+([\d.]+) (ns|us|ms|s) - ([\d.]+) (ns|us|ms|s)")


def parse(path):
    runs, workload = {}, None
    for line in open(path):
        m = re.match(r"^== (\w+)$", line.strip())
        if m:
            workload = m.group(1)
            continue
        m = ROW.match(line)
        if m and workload:
            runs[(workload, m.group(1).strip())] = float(m.group(2)) * UNITS[m.group(3)]
    return runs


def fmt(sec):
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if sec >= scale:
            return f"{sec / scale:.3g} {unit}"
    return f"{sec * 1e9:.3g} ns"


def main(paths):
    runs = [parse(p) for p in paths]
    keys = []
    for r in runs:
        for k in r:
            if k not in keys:
                keys.append(k)
    workloads = []
    for w, _ in keys:
        if w not in workloads:
            workloads.append(w)
    print(f"Medians of per-run medians over {len(runs)} runs (min-max of the run medians).\n")
    for w in workloads:
        setups = [s for (ww, s) in keys if ww == w]
        asio = [s for s in setups if not s.startswith("zokio")]
        print(f"### {w}\n")
        print("| setup | median | min-max | " + " | ".join(f"vs {a}" for a in asio) + " |")
        print("|---|---|---|" + "---|" * len(asio))
        for s in setups:
            vals = [r[(w, s)] for r in runs if (w, s) in r]
            row = f"| {s} | {fmt(statistics.median(vals))} | {fmt(min(vals))} - {fmt(max(vals))} |"
            for a in asio:
                if s.startswith("zokio"):
                    ratios = [r[(w, a)] / r[(w, s)] for r in runs if (w, a) in r and (w, s) in r]
                    row += f" {statistics.median(ratios):.2f}x |" if ratios else " n/a |"
                else:
                    row += " |"
            print(row)
        print()


if __name__ == "__main__":
    main(sys.argv[1:])
