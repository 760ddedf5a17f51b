#!/usr/bin/env python3
"""Draws a Zokio trace (runtime::trace_json(), Chrome Trace Event JSON) as a PNG timeline:
one row per worker, a bar per task poll (colour by task), grey bars while the worker is
parked, ticks for spawns, wakes and steals.

    tools/trace_timeline.py trace.json timeline.png [--from MS] [--to MS] [--width IN]

For people who cannot open chrome://tracing or https://ui.perfetto.dev (which read the same
file). Needs matplotlib (Debian: python3-matplotlib, for /usr/bin/python3).
"""
import argparse
import json
import sys


def slices(events):
    """(tid, name, cat, start_us, end_us, args) for every B/E pair, per thread in order."""
    open_ = {}
    out = []
    for e in events:
        ph = e.get("ph")
        if ph == "B":
            open_.setdefault(e["tid"], []).append(e)
        elif ph == "E":
            stack = open_.get(e["tid"])
            if stack:
                b = stack.pop()
                out.append((e["tid"], b.get("name", ""), b.get("cat", ""), b["ts"], e["ts"], b.get("args", {})))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("trace")
    ap.add_argument("png")
    ap.add_argument("--from", dest="t0", type=float, help="start of the window, ms from the first event")
    ap.add_argument("--to", dest="t1", type=float, help="end of the window, ms from the first event")
    ap.add_argument("--width", type=float, default=12.0, help="figure width in inches")
    a = ap.parse_args()
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("trace_timeline.py: needs matplotlib (apt-get install python3-matplotlib; run with /usr/bin/python3)")

    with open(a.trace) as f:
        doc = json.load(f)
    events = doc["traceEvents"] if isinstance(doc, dict) else doc
    names = {e["tid"]: e["args"]["name"] for e in events if e.get("ph") == "M" and e.get("name") == "thread_name"}
    timed = [e for e in events if "ts" in e]
    if not timed:
        sys.exit("trace_timeline.py: no events in " + a.trace)
    origin = min(e["ts"] for e in timed)
    lo = origin + (a.t0 or 0) * 1000
    hi = origin + a.t1 * 1000 if a.t1 is not None else max(e["ts"] for e in timed)
    tids = sorted(names) if names else sorted({e["tid"] for e in timed})
    row = {t: i for i, t in enumerate(tids)}
    fig, ax = plt.subplots(figsize=(a.width, 0.6 * len(tids) + 1.5))
    palette = plt.get_cmap("tab20").colors
    polls = parked = 0
    bars = {}  # (row, colour index or -1 for parked) -> [(start ms, width ms)]: one call each
    for tid, name, cat, s, e, args in slices(timed):
        if e < lo or s > hi or tid not in row:
            continue
        s, e = max(s, lo), min(e, hi)
        if cat == "park":
            bars.setdefault((row[tid], -1), []).append(((s - origin) / 1000, (e - s) / 1000))
            parked += 1
        else:
            key = (row[tid], int(args.get("task", 0)) % len(palette))
            bars.setdefault(key, []).append(((s - origin) / 1000, max(e - s, 0.05) / 1000))
            polls += 1
    for (y, c), spans in bars.items():
        if c < 0:
            ax.broken_barh(spans, (y - 0.15, 0.3), color="0.85")
        else:
            ax.broken_barh(spans, (y - 0.4, 0.8), color=palette[c])
    marks = {"spawn": ("|", "tab:green"), "wake": ("|", "tab:blue"), "steal": ("v", "tab:red")}
    for kind, (m, c) in marks.items():
        xs = [(e["ts"] - origin) / 1000 for e in timed if e.get("ph") == "i" and e.get("name") == kind and lo <= e["ts"] <= hi]
        ys = [row[e["tid"]] + 0.45 for e in timed if e.get("ph") == "i" and e.get("name") == kind and lo <= e["ts"] <= hi]
        if xs:
            ax.scatter(xs, ys, marker=m, color=c, s=12, label=f"{kind} ({len(xs)})", linewidths=0.8)
    ax.set_yticks(range(len(tids)))
    ax.set_yticklabels([names.get(t, f"thread {t}") for t in tids])
    ax.set_ylim(-0.7, len(tids) - 0.3)
    ax.invert_yaxis()
    ax.set_xlabel("ms")
    ax.set_title(f"Zokio trace: {polls} polls (a colour per task), {parked} sleeps (grey)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper right", fontsize="small", ncol=3)
    fig.tight_layout()
    fig.savefig(a.png, dpi=110)
    print(f"{a.png}: {polls} polls, {parked} sleeps, {len(tids)} rows")


if __name__ == "__main__":
    main()
