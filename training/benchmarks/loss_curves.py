#!/usr/bin/env python3
"""Does a change of kernels change training? Trains ResNet-20's recipe for a few epochs three times: on the current
path (oneDNN convolution and batch norm, the sums applying their ReLU), on the previous path (zoo4j's direct-route
convolution, batch norm in libnd4j's ops, each ReLU a pass of its own: -Dzoo4j.convolution=direct
-Dzoo4j.batchNorm=nd4j -Dzoo4j.fuseRelu=false) with the same seeds, and on the previous path with other seeds (the noise a seed change makes), and writes their training-loss curves side by side (the mean loss over
each STATS_EVERY steps, from each run's stats.jsonl), their epochs (metrics.csv) and test accuracy, with the gaps:
the current path matches the previous one within noise when its gap is no larger than the seed change's.

  training/benchmarks/loss_curves.py [--epochs 2] [--stats-every 20] [--out training/benchmarks/loss-curves-DATE-COMMIT.md]

Run from anywhere, with nothing else on the machine; the runs go to runs/loss-curves-DATE-COMMIT/ (about 5 minutes
each on a 2-core machine at 2 epochs).
"""
import argparse
import csv
import datetime
import json
import os
import shlex
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import provenance  # noqa: E402

ROOT = provenance.ROOT
RECIPE = "training/resnet20-fashion-mnist.yaml"
# nativeMalloc=reuse: under zoo4j's default malloc setting the direct route's per-call libnd4j buffers are mapped and
# faulted in afresh on every call, which makes that path several times slower; the losses do not depend on it
PREVIOUS = "-Dzoo4j.convolution=direct -Dzoo4j.batchNorm=nd4j -Dzoo4j.fuseRelu=false -Dzoo4j.nativeMalloc=reuse"
RUNS = [
    ("current", "current path (oneDNN convolution, blocked batch norm, ReLU in the sums)", "", []),
    ("previous", "previous path, same seeds", PREVIOUS, []),
    ("previous-seed2", "previous path, other seeds (data.seed=2, overrides.seed=2)", PREVIOUS,
     ["--set", "data.seed=2", "--set", "overrides.seed=2"]),
]


def train(out_dir, java_opts, extra, epochs, every):
    cmd = ["./zoo4j", "train", RECIPE, "--set", "epochs=%d" % epochs, "--set", "statsEvery=%d" % every,
           "--out", out_dir] + extra
    env = dict(os.environ, JAVA_OPTS=("-Xmx4g " + java_opts).strip())
    line = "JAVA_OPTS=%s %s" % (shlex.quote(env["JAVA_OPTS"]), " ".join(shlex.quote(c) for c in cmd))
    print(line, flush=True)
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return line


def read_run(path):
    steps = {}
    with open(os.path.join(path, "stats.jsonl")) as f:
        for line in f:
            rec = json.loads(line)
            if rec.get("type") == "step":
                steps[rec["step"]] = rec["loss"]  # a resumed run repeats steps: the last line wins
    with open(os.path.join(path, "metrics.csv")) as f:
        epochs = list(csv.DictReader(f))
    with open(os.path.join(path, "results.json")) as f:
        results = json.load(f)
    return steps, epochs, results


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--stats-every", type=int, default=20)
    p.add_argument("--out", help="Markdown file to write (default training/benchmarks/loss-curves-DATE-COMMIT.md)")
    p.add_argument("--overwrite", action="store_true")
    a = p.parse_args()
    date = datetime.date.today().isoformat()
    tag = "%s-%s" % (date, provenance.commit())
    out = a.out or os.path.join(HERE, "loss-curves-%s.md" % tag)
    if os.path.exists(out) and not a.overwrite:
        sys.exit("%s exists: pass --overwrite or another --out" % out)
    code, machine = provenance.code_state(), provenance.machine()
    run_root = os.path.join("runs", "loss-curves-" + tag)
    commands, data = [], []
    for name, _, opts, extra in RUNS:
        out_dir = os.path.join(run_root, name)
        if os.path.exists(os.path.join(ROOT, out_dir)):
            sys.exit("%s exists: remove it first" % out_dir)
        commands.append(train(out_dir, opts, extra, a.epochs, a.stats_every))
        data.append(read_run(os.path.join(ROOT, out_dir)))

    cur, prev, seed2 = data
    steps = sorted(set(cur[0]) & set(prev[0]) & set(seed2[0]))
    gap_prev = [abs(cur[0][s] - prev[0][s]) for s in steps]
    gap_seed = [abs(seed2[0][s] - prev[0][s]) for s in steps]
    lines = ["# Training loss: current kernels against the previous path, ResNet-20 (%s)" % date, "",
             "Command: `training/benchmarks/loss_curves.py --epochs %d --stats-every %d`" % (a.epochs, a.stats_every),
             "", "Code: %s. Machine: %s." % (code, machine), "", "Runs (in `%s/`, not kept):" % run_root, ""]
    for (name, label, _, _), c in zip(RUNS, commands):
        lines.append("- %s (`%s`): `%s`" % (label, name, c))
    lines += ["", "## Gaps", "",
              "Mean training loss over each %d steps; gap = |difference| at the same step, over %d steps' points:"
              % (a.stats_every, len(steps)), "",
              "| | mean gap | median gap | largest gap |", "|---|---|---|---|",
              "| current - previous (same seeds) | %.6f | %.6f | %.6f |"
              % (statistics.mean(gap_prev), statistics.median(gap_prev), max(gap_prev)),
              "| previous, other seeds - previous (noise) | %.6f | %.6f | %.6f |"
              % (statistics.mean(gap_seed), statistics.median(gap_seed), max(gap_seed)), "",
              "## Epochs", "", "| run | epoch | learning rate | train loss | validation loss | validation accuracy "
              "| seconds | images/s |", "|---|---|---|---|---|---|---|---|"]
    for (name, _, _, _), d in zip(RUNS, data):
        for e in d[1]:
            lines.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                name, e["epoch"], e["learning_rate"], e["train_loss"], e["validation_loss"],
                e["validation_accuracy"], e["seconds"], e["images_per_second"]))
    lines += ["", "Test accuracy (best epoch's model): " + ", ".join(
        "%s %.4f" % (name, d[2]["testAccuracy"]) for (name, _, _, _), d in zip(RUNS, data)), "",
              "## Curves", "", "| step | current | previous | previous, other seeds |", "|---|---|---|---|"]
    for s in steps:
        lines.append("| %d | %.6f | %.6f | %.6f |" % (s, cur[0][s], prev[0][s], seed2[0][s]))
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote " + out)


if __name__ == "__main__":
    main()
