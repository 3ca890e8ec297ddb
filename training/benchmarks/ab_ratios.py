#!/usr/bin/env python3
"""Paired ratios of ab.sh output files: for each network, mode and batch, B's images/s over A's within each round,
and the peak resident memory of both sides; then the median ratio per mode and over all pairs.

    python3 training/benchmarks/ab_ratios.py FILE [FILE ...]
"""
import collections
import os
import re
import statistics
import sys


def pairs(path):
    """(network, mode, batch) -> [(A images/s, B images/s, A peak RSS MB, B peak RSS MB) per round]."""
    rows = collections.defaultdict(lambda: collections.defaultdict(dict))
    round_no = side = None
    with open(path) as f:
        for line in f:
            m = re.match(r"## round (\d+), (A|B):", line)
            if m:
                round_no, side = int(m.group(1)), m.group(2)
                continue
            p = line.split()
            if round_no and len(p) >= 8 and p[1] in ("fit", "loop", "infer"):
                rows[(p[0], p[1], p[2])][round_no][side] = (float(p[4].replace(",", "")), int(p[-1].replace(",", "")))
    out = {}
    for key, rounds in rows.items():
        out[key] = [(r["A"][0], r["B"][0], r["A"][1], r["B"][1]) for _, r in sorted(rounds.items())
                    if "A" in r and "B" in r]
    return out


def main():
    if len(sys.argv) < 2:
        print("usage: python3 training/benchmarks/ab_ratios.py FILE [FILE ...] (output of ab.sh)", file=sys.stderr)
        sys.exit(2)
    for path in sys.argv[1:]:
        if not os.path.isfile(path):
            print("ab_ratios.py: no such file: %s" % path, file=sys.stderr)
            sys.exit(2)
    by_mode = collections.defaultdict(list)
    print("# python3 training/benchmarks/ab_ratios.py " + " ".join(sys.argv[1:]))
    for path in sys.argv[1:]:
        print("## " + path)
        for (network, mode, batch), rounds in pairs(path).items():
            ratios = [b / a for a, b, _, _ in rounds]
            by_mode[mode] += ratios
            print("%-14s %-6s %5s  B/A %s  peak RSS MB A -> B %s" % (
                network, mode, batch, " ".join("%.3f" % r for r in ratios),
                "; ".join("%d -> %d" % (ra, rb) for _, _, ra, rb in rounds)))
    every = [r for rs in by_mode.values() for r in rs]
    if not every:
        sys.exit("no paired rounds found")
    print("## medians of B/A")
    for mode, ratios in by_mode.items():
        print("%-6s %.3f over %d pairs, %d below 1" % (mode, statistics.median(ratios), len(ratios),
                                                     sum(r < 1 for r in ratios)))
    print("all    %.3f over %d pairs, %d below 1, from %.3f to %.3f" % (
        statistics.median(every), len(every), sum(r < 1 for r in every), min(every), max(every)))


if __name__ == "__main__":
    main()
