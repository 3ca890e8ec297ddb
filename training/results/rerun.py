#!/usr/bin/env python3
"""Reruns published training runs from their records, into runs/rerun/, and compares the test accuracy.

Each folder here is a run directory as `./zoo4j train` wrote it (recipe.yaml, run.json, metrics.csv, results.json,
train.log, plots; the model files are not kept here, see zoo/weights.yaml for the shipped ones). run.json records how
the run was started and each time it was resumed: command, code (commit), machine, time.

  training/results/rerun.py --dry-run          list the runs, their commands and recorded results
  training/results/rerun.py NAME [NAME ...]    rerun these (the first recorded command on the recorded recipe.yaml,
                                               with --out runs/rerun/NAME)
  training/results/rerun.py --all              rerun every one (hours: see each run's wall time)

Run from the repository root. A rerun goes to runs/rerun/NAME-TIME and never touches the record here.
"""
import argparse
import datetime
import json
import os
import shlex
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def records():
    out = {}
    for name in sorted(os.listdir(HERE)):
        path = os.path.join(HERE, name)
        if os.path.isfile(os.path.join(path, "run.json")):
            out[name] = path
    return out


def describe(name, path):
    starts = json.load(open(os.path.join(path, "run.json")))["starts"]
    results = os.path.join(path, "results.json")
    result = json.load(open(results)) if os.path.isfile(results) else None
    lines = ["%s:" % name, "  command: %s" % starts[0]["command"], "  code: %s; machine: %s" % (
        starts[0]["code"], starts[0]["machine"])]
    if len(starts) > 1:
        lines.append("  resumed %d time(s), after epochs %s" % (
            len(starts) - 1, ", ".join(str(s["epochsDoneBefore"]) for s in starts[1:])))
    if result and "testAccuracy" in result:
        lines.append("  recorded: test accuracy %.2f%%, %d epochs, %.0f s of training" % (
            100 * result["testAccuracy"], result["epochs"], result["trainSeconds"]))
    else:
        lines.append("  recorded: no test result (the run did not finish)")
    return "\n".join(lines), starts[0]["command"], result


def rerun_command(command, name, path):
    args = shlex.split(command)
    # The recipe as the run read it, not the file under training/ today, which may have changed since (LeNet-5's went
    # from 8 to 12 epochs on 2026-12-05).
    if len(args) > 2 and args[1] == "train" and not args[2].startswith("-"):
        args[2] = os.path.relpath(os.path.join(path, "recipe.yaml"), ROOT)
    if "--out" in args:
        i = args.index("--out")
        del args[i:i + 2]
    target = os.path.join("runs", "rerun", "%s-%s" % (name, datetime.datetime.now().strftime("%Y%m%d-%H%M%S")))
    return args + ["--out", target], target


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*")
    ap.add_argument("--dry-run", action="store_true", help="list the runs and what would be run")
    ap.add_argument("--all", action="store_true")
    args = ap.parse_args()
    known = records()
    unknown = [n for n in args.names if n not in known]
    if unknown:
        sys.exit("no record named %s; one of: %s" % (", ".join(unknown), ", ".join(known)))
    chosen = args.names or (list(known) if args.all or args.dry_run else [])
    if not chosen:
        sys.exit("name the runs to rerun, or --all, or --dry-run to list them")
    for name in chosen:
        text, command, recorded = describe(name, known[name])
        cmd, target = rerun_command(command, name, known[name])
        print(text)
        print("  rerun: %s" % " ".join(shlex.quote(a) for a in cmd))
        if args.dry_run:
            continue
        code = subprocess.call(cmd, cwd=ROOT)
        if code != 0:
            sys.exit("%s: the rerun ended with exit code %d; continue it with ./zoo4j train --resume %s" % (
                name, code, target))
        now = json.load(open(os.path.join(ROOT, target, "results.json")))
        if recorded and "testAccuracy" in recorded:
            print("  %s: test accuracy %.2f%% now, %.2f%% recorded" % (
                name, 100 * now["testAccuracy"], 100 * recorded["testAccuracy"]))


if __name__ == "__main__":
    main()
