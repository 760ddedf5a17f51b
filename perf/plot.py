#!/usr/bin/env python3
"""Draws SVG charts from a perf/run_all.sh output directory (the `benchmark` target).

Usage: perf/plot.py BENCHMARK_DIR [OUT_DIR]      (OUT_DIR defaults to BENCHMARK_DIR)

Reads BENCHMARK_DIR/<benchmark>.log and summary.md and writes, each when its logs parse:
  targets.svg    one bar per target line in any log, as a ratio where > 1 always means Zokio
                 better (time or CPU ratios printed as zokio/other with a target <= 1 are
                 inverted), on a log scale from 1.0, coloured by met / not met, with each
                 target marked; the HTTP lines use README's targets (req/s >= 1.0x, CPU <= 1.0x)
  forkjoin.svg   perf_forkjoin: Zokio/oneTBB time, peak RSS and CPU per program
  scheduler.svg  perf_scheduler: speed-up of zokio coro / hand over each Asio setup, per workload
A missing or unparsable log only skips its chart (with a note on stderr). The run's date and
commit (summary.md) are in every chart's title. Exit status 0 if a chart was written, else 1.
Needs matplotlib (Debian: python3-matplotlib); nothing else outside the standard library.
"""
import math
import os
import re
import sys

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import FixedLocator, FuncFormatter
except ImportError:
    sys.exit("plot.py: matplotlib is not installed (apt-get install python3-matplotlib)")

plt.rcParams.update({"font.size": 9, "svg.hashsalt": "zokio", "axes.axisbelow": True})
MET, NOT_MET = "#2c7bb6", "#e66101"  # blue / orange: tell apart without red-green vision
NUM = r"([\d.]+)x"


def note(msg):
    print(f"plot.py: {msg}", file=sys.stderr)


def clamp(x):
    """Keeps a ratio drawable on a log scale (a failed run can print 0.00x)."""
    return min(max(x, 0.01), 1000.0)


def run_info(d):
    """'quick run, 2026-12-06 06:43 UTC, commit aafba41' from summary.md, or ''."""
    try:
        text = open(os.path.join(d, "summary.md")).read()
    except OSError:
        return ""
    kind = re.search(r"^# .*\((\w+ run)\)", text, re.M)
    date = re.search(r"^- date: (.*?); commit: (\S+)", text, re.M)
    parts = ([kind.group(1)] if kind else []) + ([date.group(1), "commit " + date.group(2)] if date else [])
    return ", ".join(parts)


def read_logs(d):
    """{name: text} of every *.log in d, in summary.md's order (the order they ran)."""
    logs = {}
    for f in sorted(os.listdir(d)):
        if f.endswith(".log"):
            try:
                logs[f[:-4]] = open(os.path.join(d, f), errors="replace").read()
            except OSError as e:
                note(f"{f} unreadable, skipped ({e})")
    try:
        ran = re.findall(r"^## (\S+)", open(os.path.join(d, "summary.md")).read(), re.M)
    except OSError:
        ran = []
    rank = {n: i for i, n in enumerate(ran)}
    return dict(sorted(logs.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])))


def save(fig, out, name):
    path = os.path.join(out, name)
    fig.savefig(path, metadata={"Date": None})
    plt.close(fig)
    return path


def heading_workload(heading):
    """The workload (and baseline) a target line belongs to, from the line heading it."""
    h = heading.lstrip("= ").strip()
    m = re.match(r"(\w+): >= [\d.]+x (.+?) \(baseline (.+)\)$", h)  # perf_scheduler
    if m:
        base = m.group(3).rsplit(", ", 1)[0] if ", " in m.group(3) else m.group(2)
        return f"{m.group(1)} vs {base}"
    return "" if h.startswith("targets") else h.split(":")[0]


def target_rows(logs):
    """[(benchmark, label, ratio, target, met)], ratio and target oriented so that > 1 is Zokio
    better: a ratio printed as zokio / other with a target <= t is turned into 1 / ratio >= 1 / t."""
    rows = []

    def add(label, ratio, target, met, invert=False):
        if invert:
            label, ratio, target = label + " (inverted)", 1 / clamp(ratio), 1 / target
        rows.append((name, label, ratio, target, met))

    for name, text in logs.items():
        heading, http_setup = "", ""
        for line in text.splitlines():
            if line and not line[0].isspace():
                heading = line
            # bench::print_target: "  <setup>: 1.35x (target >= 1.00x) MET"
            m = re.match(rf"^\s+(.+): {NUM} \(target >= {NUM}\) (MET|NOT MET)\s*$", line)
            if m:
                setup, w = m.group(1), heading_workload(heading)
                label = f"{w}, {setup}" if w and not setup.startswith(w + ":") else setup
                add(label, float(m.group(2)), float(m.group(3)), m.group(4) == "MET")
            # perf_forkjoin: "  fib 27   zokio/onetbb: time 0.68x (target <= 1.0: met), peak RSS ..."
            m = re.match(rf"^\s+(.+?)\s+zokio/onetbb: time {NUM} \(target <= ([\d.]+): (met|NOT MET)\)",
                         line)
            if m:
                add(f"{m.group(1)}, time oneTBB/zokio", float(m.group(2)), float(m.group(3)),
                    m.group(4) == "met", invert=True)
            # perf_nested_await: "target: depth 1000 within 1.5x of depth 1: 1.08x met"
            m = re.match(rf"^target: (.+?) within {NUM} of (.+?): {NUM} (met|NOT MET)", line)
            if m:
                add(f"{m.group(3)} / {m.group(1)} time", float(m.group(4)), float(m.group(2)),
                    m.group(5) == "met", invert=True)
            # perf_tcp_program: "  zokio vs best asio:  throughput 0.86x (target >= 1.0),
            #                    cpu/round trip 1.18x (target <= 1.0)"
            m = re.match(rf"^\s+zokio vs best asio:\s+throughput {NUM} \(target >= ([\d.]+)\), "
                         rf"cpu/(.+?) {NUM} \(target <= ([\d.]+)\)", line)
            if m:
                thr, t1, cpu, t2 = (float(m.group(i)) for i in (1, 2, 4, 5))
                w = heading_workload(heading).split(" ")[0]
                add(f"{w}, throughput vs best asio", thr, t1, thr >= t1)
                add(f"{w}, cpu/{m.group(3)} vs best asio", cpu, t2, cpu <= t2, invert=True)
            # perf/http_beast_summary.py: "| zokio vs | req/s ratio | ..." heads a table whose
            # "| best asio (...) | 1.05x | min-max | 0.91x | min-max |" row is the comparison
            m = re.match(r"^\| (\w+) vs \| req/s ratio", line)
            if m:
                http_setup = m.group(1)
            m = re.match(rf"^\| best asio .*?\| {NUM} \|.*?\| {NUM} \|", line)
            if m:
                rps, cpu = float(m.group(1)), float(m.group(2))
                add(f"{http_setup} vs best asio, req/s", rps, 1.0, rps >= 1.0)
                add(f"{http_setup} vs best asio, CPU/request", cpu, 1.0, cpu <= 1.0, invert=True)
            # perf/http_server.sh: "http_server / best plain Asio (x): 0.95x requests/s; cpu per
            # request 1.02x the lowest (y)"
            m = re.match(rf"^http_server / best plain Asio .*?: {NUM} requests/s; cpu per request {NUM}",
                         line)
            if m:
                rps, cpu = float(m.group(1)), float(m.group(2))
                add("vs best asio, req/s", rps, 1.0, rps >= 1.0)
                add("vs best asio, CPU/request", cpu, 1.0, cpu <= 1.0, invert=True)
    return rows


def chart_targets(logs, out, info):
    rows = target_rows(logs)
    if not rows:
        note("no target lines in any log, targets.svg skipped")
        return None
    n = len(rows)
    fig, ax = plt.subplots(figsize=(12, 1.6 + 0.24 * n), layout="constrained")
    ys = range(n)
    vals = [clamp(r[2]) for r in rows]
    colors = [MET if r[4] else NOT_MET for r in rows]
    ax.barh(ys, [v - 1 for v in vals], left=1, height=0.7, color=colors)
    ax.plot([r[3] for r in rows], ys, "|", color="black", markersize=11, markeredgewidth=1.5)
    for y, v, r, c in zip(ys, vals, rows, colors):  # the value beyond the bar and the target mark
        x = max(v, r[3]) * 1.05 if v >= 1 else min(v, r[3]) / 1.05
        ax.text(x, y, f"{r[2]:.2f}x", va="center", ha="left" if v >= 1 else "right", fontsize=7.5, color=c)
    for y in range(1, n):  # a rule between benchmarks
        if rows[y][0] != rows[y - 1][0]:
            ax.axhline(y - 0.5, color="lightgray", linewidth=0.8)
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_xscale("log")
    lo, hi = min(vals + [r[3] for r in rows]), max(vals + [r[3] for r in rows])
    ax.set_xlim(min(lo / 1.6, 0.5), max(hi * 1.6, 2.0))
    ax.xaxis.set_major_locator(FixedLocator([0.01, 0.03, 0.1, 0.25, 0.5, 1, 2, 4, 10, 30, 100, 1000]))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}x"))
    ax.set_yticks(list(ys), [f"{r[0]}: {r[1]}" for r in rows])
    ax.set_ylim(n - 0.4, -0.6)
    ax.grid(axis="x", which="both", color="#eeeeee")
    ax.set_xlabel("ratio, log scale, > 1: Zokio better (the other's time / Zokio's, or Zokio's throughput / "
                  "the other's;\n lines marked (inverted) print Zokio / other with a target <= 1 and are "
                  "drawn as 1/x)")
    ax.set_title(f"Zokio benchmark targets ({info})" if info else "Zokio benchmark targets")
    handles = [Patch(color=MET, label="target met"), Patch(color=NOT_MET, label="target not met"),
               Line2D([], [], color="black", marker="|", linestyle="none", markersize=11,
                      markeredgewidth=1.5, label="target")]
    ax.legend(handles=handles, loc="lower right", fontsize=8)
    return save(fig, out, "targets.svg")


def chart_forkjoin(logs, out, info):
    text = logs.get("perf_forkjoin")
    if text is None:
        note("perf_forkjoin.log missing, forkjoin.svg skipped")
        return None
    rows = re.findall(rf"^\s+(.+?)\s+zokio/onetbb: time {NUM} \(target <= [\d.]+: (met|NOT MET)\), "
                      rf"peak RSS {NUM} \(target .*?: (met|NOT MET)\), CPU {NUM}", text, re.M)
    if not rows:
        note("perf_forkjoin.log has no 'zokio/onetbb' lines, forkjoin.svg skipped")
        return None
    fig, ax = plt.subplots(figsize=(10, 4.5), layout="constrained")
    series = [("time", 1, 2, "#2c7bb6"), ("peak RSS", 3, 4, "#abd9e9"), ("CPU", 5, None, "#fdae61")]
    width = 0.26
    for k, (label, col, met_col, color) in enumerate(series):
        xs = [i + (k - 1) * width for i in range(len(rows))]
        hatch = ["//" if met_col and r[met_col] != "met" else "" for r in rows]
        bars = ax.bar(xs, [float(r[col]) for r in rows], width, color=color, edgecolor="black", linewidth=0.5)
        for b, h in zip(bars, hatch):
            b.set_hatch(h)
        ax.bar_label(bars, fmt="%.2f", fontsize=7.5, padding=2)
    ax.axhline(1.0, color="black", linewidth=1)
    ax.axhline(2.0, color="gray", linewidth=1, linestyle="--")
    handles = [Patch(facecolor=c, edgecolor="black", linewidth=0.5, label=l) for l, _, _, c in series] + [
        Patch(facecolor="white", edgecolor="black", hatch="//", label="target not met"),
        Line2D([], [], color="black", linewidth=1, label="time target (<= 1.0)"),
        Line2D([], [], color="gray", linewidth=1, linestyle="--",
               label="peak RSS target\n(<= 2x + the fixed cost)")]
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.set_xticks(range(len(rows)), [r[0] for r in rows])
    ax.set_ylim(0, max(2.4, max(float(r[c]) for r in rows for c in (1, 3, 5)) * 1.15))
    ax.set_ylabel("Zokio / oneTBB (< 1: Zokio faster / smaller)")
    ax.grid(axis="y", color="#eeeeee")
    title = "perf_forkjoin: Zokio against oneTBB task_group"
    ax.set_title(f"{title} ({info})" if info else title)
    return save(fig, out, "forkjoin.svg")


def speedup_tables(text):
    """{workload: (columns, {row: [ratios]})} from '== workload' sections' 'speed-up = ...' tables."""
    tables, workload, lines = {}, None, text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^== (\w+)\s*$", line)
        if m:
            workload = m.group(1)
        if workload and line.strip().startswith("speed-up =") and i + 1 < len(lines):
            cols = re.split(r"\s{2,}", lines[i + 1].strip())
            rows = {}
            for row in lines[i + 2:]:
                m = re.match(r"^\s+(.+?)\s{2,}((?:[\d.]+x\s*)+)$", row)
                if not m:
                    break
                vals = [float(v) for v in re.findall(NUM, m.group(2))]
                if len(vals) == len(cols):
                    rows[m.group(1)] = vals
            if rows:
                tables[workload] = (cols, rows)
    return tables


def chart_scheduler(logs, out, info):
    if "perf_scheduler" not in logs:
        note("perf_scheduler.log missing, scheduler.svg skipped")
        return None
    tables = speedup_tables(logs["perf_scheduler"])
    if not tables:
        note("perf_scheduler.log has no speed-up tables, scheduler.svg skipped")
        return None
    ncols = 2
    nrows = math.ceil(len(tables) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(12, 3.8 * nrows + 0.5), layout="constrained", sharey=True,
                             squeeze=False)
    allv = [clamp(v) for cols, rows in tables.values() for vs in rows.values() for v in vs]
    colors = ["#2c7bb6", "#fdae61", "#abd9e9", "#d7191c"]
    for ax, (workload, (cols, rows)) in zip(axes.flat, tables.items()):
        width = 0.8 / len(rows)
        for k, (row, vals) in enumerate(rows.items()):
            xs = [i + (k - (len(rows) - 1) / 2) * width for i in range(len(cols))]
            bars = ax.bar(xs, [clamp(v) - 1 for v in vals], width, bottom=1, label=row,
                          color=colors[k % len(colors)])
            ax.bar_label(bars, labels=[f"{v:.2f}" for v in vals], fontsize=7, rotation=90, padding=2)
        ax.axhline(1.0, color="black", linewidth=1)
        ax.set_yscale("log")
        ax.set_ylim(min(min(allv) / 1.5, 0.5), max(allv) * 4)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}x"))
        ax.set_xticks(range(len(cols)), cols, fontsize=8, rotation=20, ha="right", rotation_mode="anchor")
        ax.set_title(workload)
        ax.grid(axis="y", which="major", color="#eeeeee")
        ax.legend(fontsize=8, loc="upper left")
    for ax in axes.flat[len(tables):]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("speed-up, log scale\n(Asio time / Zokio time, > 1: Zokio faster)")
    title = "perf_scheduler: Zokio against plain Asio setups, 2 threads (cb: callbacks, aw: awaitable)"
    fig.suptitle(f"{title}\n({info})" if info else title)
    return save(fig, out, "scheduler.svg")


def main(argv):
    if len(argv) not in (2, 3):
        sys.exit(__doc__)
    d = argv[1]
    out = argv[2] if len(argv) == 3 else d
    if not os.path.isdir(d):
        sys.exit(f"plot.py: {d} is not a directory")
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        sys.exit(f"plot.py: cannot create {out}: {e}")
    logs, info = read_logs(d), run_info(d)
    charts = [
        lambda: chart_targets(logs, out, info),
        lambda: chart_forkjoin(logs, out, info),
        lambda: chart_scheduler(logs, out, info),
    ]
    written = []
    for chart in charts:
        try:
            path = chart()
        except Exception as e:  # a log in a format this script does not know: skip the chart
            note(f"a chart failed ({type(e).__name__}: {e}), skipped")
            plt.close("all")
            continue
        if path:
            written.append(path)
            print(path)
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
