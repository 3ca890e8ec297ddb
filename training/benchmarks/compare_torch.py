#!/usr/bin/python3
"""zoo4j against its PyTorch peer (torch_peer.py beside this script) on the same networks, cores and data, alternately.

Each round, for each network: `zoo4j bench` (one JVM per network, so that its peak memory is its own), raw DL4J's bare
fit on the same network (`bench --mode fit --raw-dl4j` with `-Dzoo4j.nativeMalloc=default
-Dzoo4j.blasThreads=default`: DL4J's own convolution helper, glibc's default malloc settings, ND4J's OpenBLAS threads),
then torch_peer.py for the same network (one process per network), so that all see the same machine state. Ratios are
taken within each round and their median reported, with the lowest round beside it. Then writes a Markdown results
file and the raw CSV (zoo4j's rows and the peer's, in the same columns).

  /usr/bin/python3 training/benchmarks/compare_torch.py [--rounds 3] [--repeats 5] [--threads 2]
      [--networks lenet5,resnet20,vgg16-bn,alexnet-small,resnet18-224] [--out training/benchmarks/results-DATE.md]
  resnet18-224 trains on random images: it has no loop mode, and its bare fit is its training figure.

Before the rounds: checks that each network's parameter count is the same on both sides, and measures this CPU's FP32
ceiling (torch_peer.py --sgemm) to report ResNet-20's training throughput as a share of it.

Needs Debian's python3-torch (run with /usr/bin/python3) and dataset-fashion-mnist; builds zoo4j with ./zoo4j first.
"""
import argparse
import csv
import datetime
import io
import json
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))
from provenance import code_state, machine  # noqa: E402 (training/provenance.py)
PEER = os.path.join(HERE, "torch_peer.py")
# network -> training batch compared, whether zoo4j's loop mode applies (Fashion-MNIST images) or only fit and infer
NETWORKS = {"lenet5": (64, True), "resnet20": (128, True), "vgg16-bn": (64, True), "alexnet-small": (64, True),
            "resnet18-224": (8, False)}
# A training step's multiply-adds are about three times the forward pass's (forward, data gradient, weight gradient).
TRAIN_FLOPS_PER_FORWARD = 3


def run(cmd, env=None):
    print("$ " + " ".join(cmd), flush=True)
    p = subprocess.run(cmd, cwd=ROOT, env=env or os.environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    if p.returncode != 0:
        sys.exit("failed (exit %d):\n%s" % (p.returncode, p.stdout[-4000:]))
    return p.stdout


def new_rows(csv_path, before):
    rows = list(csv.DictReader(io.StringIO(open(csv_path).read())))
    return rows[before:]


def row_count(csv_path):
    return len(open(csv_path).read().splitlines()) - 1 if os.path.exists(csv_path) else 0


def zoo4j(network, args, csv_path):
    before = row_count(csv_path)
    modes = "fit,loop,infer" if NETWORKS[network][1] else "fit,infer"
    run(["./zoo4j", "bench", "--network", network, "--mode", modes, "--batch", str(NETWORKS[network][0]),
         "--repeats", str(args.repeats), "--csv", csv_path], dict(os.environ, OMP_NUM_THREADS=str(args.threads)))
    return new_rows(csv_path, before)


def raw_dl4j(network, args, csv_path):
    """The bare fit as raw DL4J runs it: DL4J's own convolution helper, glibc's malloc and ND4J's BLAS threads as they
    come (./zoo4j built the jar)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env["OMP_NUM_THREADS"] = str(args.threads)
    before = row_count(csv_path)
    run(["java", "-Xmx4g", "-Dzoo4j.nativeMalloc=default", "-Dzoo4j.blasThreads=default",
         "-cp", "target/zoo4j.jar:target/lib/*", "org.zoo4j.cli.Main", "bench", "--network", network, "--mode", "fit",
         "--raw-dl4j", "--batch", str(NETWORKS[network][0]), "--repeats", str(args.repeats), "--csv", csv_path], env)
    return new_rows(csv_path, before)


def peer(arguments):
    out = run(["/usr/bin/python3", PEER] + arguments)
    return [json.loads(line[len("RESULT "):]) for line in out.splitlines() if line.startswith("RESULT ")]


def torch(network, args, csv_path):
    """The peer's rows, appended to the CSV in zoo4j's columns."""
    recs = peer([network, "--threads", str(args.threads), "--repeats", str(args.repeats), "--batch",
                 str(NETWORKS[network][0])])
    with open(csv_path, "a") as f:
        for r in recs:
            f.write("torch,%s,%s,%d,%d,%d,%.1f,%.1f,%.1f,,%.0f,\n" % (
                network, r["mode"], r["batch"], r["threads"], r["repeats"], r["median_ips"], r["min_ips"],
                r["max_ips"], r["peak_rss_mb"]))
    return recs


def zoo4j_params(networks):
    out = run(["./zoo4j", "bench", "--network", ",".join(networks), "--mode", "params"])
    return {m.group(1): int(m.group(2).replace(",", "")) for m in re.finditer(r"^(\S+)\s+parameters\s+([0-9,]+)",
                                                                              out, re.MULTILINE)}


def ratio_cell(values, worst=min, word="lowest"):
    """Median of the per-round ratios, and the worst round (the lowest; for memory, the highest)."""
    return "%.3f (%s %.3f)" % (statistics.median(values), word, worst(values))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5, help="timed runs per round on each side")
    ap.add_argument("--networks", default=",".join(NETWORKS))
    ap.add_argument("--out", default=os.path.join(HERE, "results-%s.md" % datetime.date.today().isoformat()))
    ap.add_argument("--overwrite", action="store_true", help="replace an existing results file of the same name")
    args = ap.parse_args()
    networks = args.networks.split(",")
    for n in networks:
        if n not in NETWORKS:
            sys.exit("unknown network %s; one of %s" % (n, ", ".join(NETWORKS)))
    csv_path = os.path.splitext(args.out)[0] + ".csv"
    for path in (args.out, csv_path):
        if os.path.exists(path) and not args.overwrite:
            sys.exit("%s exists: choose another --out, or --overwrite to replace it" % path)
    if os.path.exists(csv_path):
        os.remove(csv_path)
    state = code_state()  # before the runs: ./zoo4j rebuilds from the working tree, which must not change meanwhile
    ours = zoo4j_params(networks)
    theirs = {}
    for n in networks:
        theirs[n] = peer(["--params", n])[0]["params"]
    mismatched = [n for n in networks if ours.get(n) != theirs[n]]
    if mismatched:
        sys.exit("parameter counts differ, so the networks do: " + ", ".join(
            "%s zoo4j %s, PyTorch %d" % (n, ours.get(n), theirs[n]) for n in mismatched))
    sgemm = peer(["--sgemm", "--threads", str(args.threads), "--repeats", str(args.repeats)])[0]
    if "/blas/libblas" in sgemm["blas"]:
        # Debian's reference BLAS: PyTorch's matrix products (fully connected layers, the FP32 ceiling) run far slower
        # than any PyTorch user's would, so a comparison against it is void.
        sys.exit("PyTorch runs on the reference BLAS (%s): install libopenblas0-pthread (apt-get install "
                 "libopenblas0-pthread) and run again" % sgemm["blas"])
    flops = {n: peer(["--flops", n])[0]["value"] for n in networks}
    torch_version = sgemm["torch"]
    ratios = {}   # (network, what) -> [per-round ratio]
    figures = {}  # (network, side, what) -> [per-round images/s]
    peaks = {}    # (network, side) -> [per-round peak resident MB of the training process]
    for _ in range(args.rounds):
        for n in networks:
            got = {}
            for row in zoo4j(n, args, csv_path) + raw_dl4j(n, args, csv_path):
                got[("zoo4j", row["mode"])] = float(row["median_ips"])
                if row["mode"] in ("fit", "loop"):
                    got[("zoo4j", "rss")] = max(got.get(("zoo4j", "rss"), 0), float(row["peak_rss_mb"]))
            for rec in torch(n, args, csv_path):
                got[("torch", rec["mode"])] = rec["median_ips"]
                if rec["mode"] == "fit":
                    got[("torch", "rss")] = rec["peak_rss_mb"]
            for (side, what), value in got.items():
                if what == "rss":
                    peaks.setdefault((n, side), []).append(value)
                else:
                    figures.setdefault((n, side, what), []).append(value)
            train = got[("zoo4j", "loop")] if ("zoo4j", "loop") in got else got[("zoo4j", "fit")]
            ratios.setdefault((n, "train"), []).append(train / got[("torch", "fit")])
            ratios.setdefault((n, "fit"), []).append(got[("zoo4j", "fit")] / got[("torch", "fit")])
            ratios.setdefault((n, "infer"), []).append(got[("zoo4j", "infer")] / got[("torch", "infer")])
            ratios.setdefault((n, "memory"), []).append(got[("zoo4j", "rss")] / got[("torch", "rss")])
            if ("zoo4j", "loop") in got:
                ratios.setdefault((n, "loop/fit"), []).append(got[("zoo4j", "loop")] / got[("zoo4j", "fit")])
    med = {k: statistics.median(v) for k, v in figures.items()}
    command = ("/usr/bin/python3 training/benchmarks/compare_torch.py --rounds %d --repeats %d --threads %d "
               "--networks %s" % (args.rounds, args.repeats, args.threads, args.networks))
    lines = ["# zoo4j against PyTorch, %s" % datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "",
             "Code state: %s. PyTorch %s (torch_peer.py), BLAS %s." % (state, torch_version, sgemm["blas"]), "",
             "Machine: %s. Threads: %d (OMP_NUM_THREADS for zoo4j, torch.set_num_threads for PyTorch)." % (
                 machine(), args.threads),
             "Command: `%s`" % command, "",
             "Images/s: the median of %d alternating rounds, each figure itself the median of %d timed runs. Ratios "
             "(zoo4j / PyTorch) are taken within each round; the median ratio is shown with the lowest round's (for "
             "memory, the highest round's). Training compares zoo4j's loop (data pipeline, progress, NaN check) with "
             "PyTorch's step on batches in memory; resnet18-224 (random images) compares the bare fit. Where zoo4j has a "
             "loop, its fit is timed in turn with the loop's epochs on the loop's network, a fit run for each "
             "epoch, half of it just before the epoch and half just after (`zoo4j bench --mode fit,loop`). Raw rows: `%s`." % (
                 args.rounds, args.repeats, os.path.basename(csv_path)), "",
             "Raw DL4J fit: the same network and batches with DL4J's own oneDNN convolution helper, glibc's default "
             "malloc settings and ND4J's OpenBLAS threads.", "",
             "| network | params | batch | PyTorch train | raw DL4J fit | zoo4j fit | zoo4j loop | train / PyTorch "
             "| fit / PyTorch | loop / fit | PyTorch infer | zoo4j infer | infer / PyTorch | peak RSS MB zoo4j / "
             "PyTorch |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for n in networks:
        loop = "%.0f" % med[(n, "zoo4j", "loop")] if (n, "zoo4j", "loop") in med else "-"
        loop_fit = ratio_cell(ratios[(n, "loop/fit")]) if (n, "loop/fit") in ratios else "-"
        lines.append("| %s | %s | %d | %.0f | %.0f | %.0f | %s | %s | %s | %s | %.0f | %.0f | %s | %.0f / %.0f = %s |" % (
            n, format(ours[n], ","), NETWORKS[n][0], med[(n, "torch", "fit")], med[(n, "zoo4j", "fit-raw")],
            med[(n, "zoo4j", "fit")], loop, ratio_cell(ratios[(n, "train")]), ratio_cell(ratios[(n, "fit")]),
            loop_fit, med[(n, "torch", "infer")], med[(n, "zoo4j", "infer")], ratio_cell(ratios[(n, "infer")]),
            statistics.median(peaks[(n, "zoo4j")]), statistics.median(peaks[(n, "torch")]),
            ratio_cell(ratios[(n, "memory")], max, "highest")))
    lines += ["", "FP32 ceiling: a %d x %d single-precision matrix product on %d threads (torch.mm), median %.1f "
                  "GFLOP/s over %d runs." % (sgemm["n"], sgemm["n"], sgemm["threads"], sgemm["median"],
                                             sgemm["repeats"]), ""]
    lines += ["| network | forward FLOP / image | training FLOP / image (x%d) | PyTorch share of ceiling | zoo4j "
              "share of ceiling |" % TRAIN_FLOPS_PER_FORWARD, "|---|---|---|---|---|"]
    for n in networks:
        per_image = TRAIN_FLOPS_PER_FORWARD * flops[n]
        zoo4j_train = med[(n, "zoo4j", "loop")] if (n, "zoo4j", "loop") in med else med[(n, "zoo4j", "fit")]
        lines.append("| %s | %s | %s | %.3f | %.3f |" % (
            n, format(flops[n], ","), format(per_image, ","), med[(n, "torch", "fit")] * per_image / 1e9
            / sgemm["median"], zoo4j_train * per_image / 1e9 / sgemm["median"]))
    text = "\n".join(lines) + "\n"
    with open(args.out, "w") as f:
        f.write(text)
    print(text)
    print("written: %s and %s" % (args.out, csv_path))


if __name__ == "__main__":
    main()
