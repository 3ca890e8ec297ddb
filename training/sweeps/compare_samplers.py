#!/usr/bin/env python3
"""TPE against random search on a real sweep, over several seeds, with the same number of trials each.

For each seed, writes the sweep file training/sweeps/lenet5-sampler-compare.yaml with that seed and strategy into
OUT/files/, runs it with ./zoo4j sweep (one sweep at a time, so each has the whole CPU), reads the best validation
accuracy and the trial times from its SQLite store, and prints a Markdown table (also written to --report).

  python3 training/sweeps/compare_samplers.py --seeds 1 2 3 4 5 --report training/sweeps/results-DATE.md
"""
import argparse
import pathlib
import re
import sqlite3
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "training"))
from provenance import code_state, machine  # noqa: E402 (training/provenance.py)
TEMPLATE = ROOT / "training" / "sweeps" / "lenet5-sampler-compare.yaml"


def run_sweep(out, strategy, seed, launcher):
    name = f"compare-{strategy}-seed{seed}"
    files = out / "files"
    files.mkdir(parents=True, exist_ok=True)
    text = TEMPLATE.read_text()
    text = re.sub(r"(?m)^name: .*$", f"name: {name}", text)
    startup = ", startupTrials: 5" if strategy == "tpe" else ""  # random search has no such setting
    text = re.sub(r"(?m)^strategy: .*$", f"strategy: {{type: {strategy}, seed: {seed}{startup}}}", text)
    text = text.replace("recipe: training/", f"recipe: {ROOT}/training/")
    sweep_file = files / f"{name}.yaml"
    sweep_file.write_text(text)
    db = out / name / "sweep.db"
    if not db.exists():  # a finished sweep is not run again: the script can be stopped and started again
        log = (out / f"{name}.log").open("w")
        start = time.time()
        subprocess.run([launcher, "sweep", str(sweep_file), "--dir", str(out)], stdout=log,
                       stderr=subprocess.STDOUT, check=True, cwd=ROOT)
        print(f"{name}: {time.time() - start:.0f} s", file=sys.stderr)
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT number, state, value, seconds FROM trials ORDER BY number").fetchall()
    complete = [r for r in rows if r[1] == "complete" and r[2] is not None]
    best = max(r[2] for r in complete)
    first_best = min(r[0] for r in complete if r[2] == best)
    return {"best": best, "complete": len(complete), "trials": len(rows), "seconds": sum(r[3] for r in rows),
            "best_at": first_best + 1, "mean": statistics.mean(r[2] for r in complete)}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    p.add_argument("--out", type=pathlib.Path, default=ROOT / "runs" / "sampler-compare")
    p.add_argument("--report", type=pathlib.Path)
    p.add_argument("--launcher", default=str(ROOT / "zoo4j"), help="the zoo4j command (default: ./zoo4j)")
    args = p.parse_args()
    code = code_state()
    results = {}
    for seed in args.seeds:
        for strategy in ("random", "tpe"):
            results[(strategy, seed)] = run_sweep(args.out, strategy, seed, args.launcher)

    lines = ["| seed | random: best | random: trial of best | TPE: best | TPE: trial of best | "
             "random: mean of trials | TPE: mean of trials | random: s | TPE: s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for seed in args.seeds:
        r, t = results[("random", seed)], results[("tpe", seed)]
        lines.append(f"| {seed} | {100 * r['best']:.2f}% | {r['best_at']} | {100 * t['best']:.2f}% | {t['best_at']} | "
                     f"{100 * r['mean']:.2f}% | {100 * t['mean']:.2f}% | {r['seconds']:.0f} | {t['seconds']:.0f} |")
    wins = sum(results[("tpe", s)]["best"] > results[("random", s)]["best"] for s in args.seeds)
    ties = sum(results[("tpe", s)]["best"] == results[("random", s)]["best"] for s in args.seeds)
    mean = {k: statistics.mean(results[(k, s)]["best"] for s in args.seeds) for k in ("random", "tpe")}
    trials = {k: sorted({results[(k, s)]["complete"] for s in args.seeds}) for k in ("random", "tpe")}
    lines.append("")
    lines.append(f"Mean best validation accuracy over {len(args.seeds)} seeds: random {100 * mean['random']:.2f}%, "
                 f"TPE {100 * mean['tpe']:.2f}%; TPE better on {wins} of {len(args.seeds)} seeds"
                 f"{f', tied on {ties}' if ties else ''}. Complete trials per sweep: random {trials['random']}, "
                 f"TPE {trials['tpe']}.")
    table = "\n".join(lines)
    print(table)
    if args.report:
        args.report.write_text(f"# TPE against random search, {time.strftime('%Y-%m-%d')}, {code}\n\n"
                               f"Command: `python3 training/sweeps/compare_samplers.py --seeds "
                               f"{' '.join(map(str, args.seeds))}`; sweep file: "
                               f"`training/sweeps/lenet5-sampler-compare.yaml` (strategy and seed set per run). "
                               f"Machine: {machine()}; one sweep at a time. `s`: the trials' summed seconds.\n\n"
                               f"{table}\n")


if __name__ == "__main__":
    main()
