#!/usr/bin/env python3
"""Summarizes a perf/http_beast.sh log directory into Markdown tables.

Usage: perf/http_beast_summary.py DIR

DIR holds, per round R and setup S, runR-S.wrk (wrk's output) and runR-S.server (the
server's "result ..." line), and orderR (that round's setup order).

Per setup: the median over rounds of wrk's Requests/sec and of the server's CPU time per
request (CPU microseconds of the whole server process, user + system, over the responses it
wrote), each with its min-max. Zokio's ratios are computed per round (both numbers from the
same round) and their median over rounds is printed, as perf/summarize.py does: req/s ratio =
zokio / asio (> 1: Zokio serves more), CPU ratio = zokio / asio (< 1: Zokio spends less per
request). "best asio" is, in each round, the Asio setup with the highest req/s (for the req/s
ratio) and the one with the lowest CPU per request (for the CPU ratio).
"""
import os
import re
import statistics
import sys

SETUPS = ["zokio", "asio_pool", "asio_1ctx2thr", "asio_ctx_per_thread", "zokio_pinned"]
UNITS = {"": 1, "k": 1e3, "K": 1e3, "m": 1e6, "M": 1e6}


def parse_wrk(path):
    text = open(path).read()
    m = re.search(r"^Requests/sec:\s+([\d.]+)([kKmM]?)", text, re.M)
    if not m:
        raise ValueError(f"{path}: no Requests/sec line")
    res = {"rps": float(m.group(1)) * UNITS[m.group(2)]}
    m = re.search(r"^\s*(\d+) requests in ([\d.]+)(\w+)", text, re.M)
    res["wrk_requests"] = int(m.group(1)) if m else None
    errors = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        errors += sum(int(g) for g in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        errors += int(m.group(1))
    res["wrk_errors"] = errors
    return res


def parse_server(path):
    for line in open(path):
        if line.startswith("result "):
            kv = dict(item.split("=", 1) for item in line.split()[1:])
            return {
                "cpu_us": float(kv["cpu_us"]),
                "requests": int(kv["requests"]),
                "server_errors": int(kv["errors"]),
                "wall_s": float(kv["wall_s"]),
            }
    raise ValueError(f"{path}: no result line")


def load(d):
    rounds = []
    r = 1
    while os.path.exists(os.path.join(d, f"order{r}")):
        order = open(os.path.join(d, f"order{r}")).read().split()
        row = {}
        for s in order:
            base = os.path.join(d, f"run{r}-{s}")
            v = parse_wrk(base + ".wrk")
            v.update(parse_server(base + ".server"))
            v["cpu_per_req"] = v["cpu_us"] / v["requests"] if v["requests"] else float("nan")
            row[s] = v
        rounds.append((order, row))
        r += 1
    return rounds


def med_range(vals, fmt):
    return f"{fmt(statistics.median(vals))} | {fmt(min(vals))} - {fmt(max(vals))}"


def main(d):
    rounds = load(d)
    if not rounds:
        sys.exit(f"{d}: no complete round found")
    setups = [s for s in SETUPS if all(s in row for _, row in rounds)]
    asio = [s for s in setups if s.startswith("asio")]
    n = len(rounds)
    krps = lambda x: f"{x / 1e3:.1f}k"
    us = lambda x: f"{x:.2f}"
    ratio = lambda x: f"{x:.2f}x"

    print(f"wrk -t1 -c50 against Beast's async HTTP server, 2 server threads; medians over {n} "
          f"round(s) (min-max over rounds).\n")
    print("| setup | req/s | min-max | server CPU us/req | min-max |")
    print("|---|---|---|---|---|")
    for s in setups:
        rps = [row[s]["rps"] for _, row in rounds]
        cpu = [row[s]["cpu_per_req"] for _, row in rounds]
        print(f"| {s} | {med_range(rps, krps)} | {med_range(cpu, us)} |")
    print()

    for z in [s for s in setups if s.startswith("zokio")]:
        if not asio:
            break
        print(f"{z} / Asio, per round, median (min-max) over rounds: req/s ratio > 1 means Zokio "
              "serves more; CPU/req ratio < 1 means Zokio spends less per request.\n")
        print(f"| {z} vs | req/s ratio | min-max | CPU/req ratio | min-max |")
        print("|---|---|---|---|---|")
        for a in asio:
            rr = [row[z]["rps"] / row[a]["rps"] for _, row in rounds]
            cr = [row[z]["cpu_per_req"] / row[a]["cpu_per_req"] for _, row in rounds]
            print(f"| {a} | {med_range(rr, ratio)} | {med_range(cr, ratio)} |")
        rr = [row[z]["rps"] / max(row[a]["rps"] for a in asio) for _, row in rounds]
        cr = [row[z]["cpu_per_req"] / min(row[a]["cpu_per_req"] for a in asio)
              for _, row in rounds]
        best_rps = max(asio, key=lambda a: statistics.median(row[a]["rps"] for _, row in rounds))
        best_cpu = min(asio, key=lambda a: statistics.median(row[a]["cpu_per_req"]
                                                             for _, row in rounds))
        print(f"| best asio (by median: {best_rps} req/s, {best_cpu} CPU) | "
              f"{med_range(rr, ratio)} | {med_range(cr, ratio)} |")
        print()

    print("Per round: req/s, server CPU us/req (server responses; wrk errors if any).\n")
    print("| round | order | " + " | ".join(setups) + " |")
    print("|---|---|" + "---|" * len(setups))
    for i, (order, row) in enumerate(rounds, 1):
        cells = []
        for s in setups:
            v = row[s]
            c = f"{krps(v['rps'])}, {us(v['cpu_per_req'])} ({v['requests']}"
            if v["wrk_errors"] or v["server_errors"]:
                c += f"; errors wrk {v['wrk_errors']} server {v['server_errors']}"
            cells.append(c + ")")
        print(f"| {i} | {' '.join(order)} | " + " | ".join(cells) + " |")

    bad = [(i, s) for i, (_, row) in enumerate(rounds, 1) for s in setups
           if row[s]["wrk_errors"] or (row[s]["wrk_requests"] or 0) > row[s]["requests"]]
    if bad:
        print("\nWARNING: wrk reported errors, or more responses than the server counted, in: " +
              ", ".join(f"round {i} {s}" for i, s in bad))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
