#!/usr/bin/python3
"""zoo4j against the PyTorch peer on the same networks, cores and data, run alternately.

For each round and each network, runs `zoo4j bench` for that network (one JVM per network, so the peak memory is its
own), then raw DL4J's bare fit on the same network (`bench --mode fit --raw-dl4j` with
`-Dzoo4j.nativeMalloc=default -Dzoo4j.blasThreads=default`: DL4J's own convolution helper, glibc's default malloc
settings, ND4J's OpenBLAS threads), then the PyTorch peer for the same network (shared/peers/torch_bench.py, or
torch_peer_extra.py beside this script for AlexNet-small and ResNet-18 at 224, which that peer lacks), so that all see
the same machine state; then prints, per network, the median images/s of each side over the rounds and their
ratio, and writes a Markdown results file and the raw CSV.

  /usr/bin/python3 training/benchmarks/compare_torch.py [--rounds 3] [--threads 2] [--networks lenet5,resnet20,vgg16-bn]
      [--peer ../shared/peers/torch_bench.py] [--out training/benchmarks/results-DATE.md]
  networks: lenet5, resnet20, vgg16-bn, alexnet-small, resnet18-224 (random images: no loop mode, the bare fit is
  its training figure)

Needs Debian's python3-torch (run with /usr/bin/python3) and dataset-fashion-mnist; builds zoo4j with ./zoo4j first.
"""
import argparse
import csv
import datetime
import io
import json
import os
import platform
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EXTRA_PEER = os.path.join(HERE, "torch_peer_extra.py")
# zoo4j network name -> (peer network argument, peer's name in its RESULT lines, training batch, inference batch,
# whether it is the extra peer's, whether zoo4j's loop mode applies (Fashion-MNIST) or only fit and infer)
PEERS = {"lenet5": ("lenet", "lenet", 64, 256, False, True), "resnet20": ("resnet", "resnet20", 128, 256, False, True),
         "vgg16-bn": ("vgg", "vgg16", 64, 256, False, True),
         "alexnet-small": ("alexnet-small", "alexnet-small", 64, 256, True, True),
         "resnet18-224": ("resnet18-224", "resnet18-224", 8, 8, True, False)}


def run(cmd, env):
    print("$ " + " ".join(cmd), flush=True)
    p = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        sys.exit("failed (exit %d):\n%s" % (p.returncode, p.stdout[-4000:]))
    return p.stdout


def zoo4j(network, threads, csv_path, repeats):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    before = open(csv_path).read().splitlines()[1:] if os.path.exists(csv_path) else []
    modes = "fit,loop,infer" if PEERS[network][5] else "fit,infer"
    run(["./zoo4j", "bench", "--network", network, "--mode", modes, "--batch", str(PEERS[network][2]),
         "--repeats", str(repeats), "--csv", csv_path], env)
    rows = list(csv.DictReader(io.StringIO(open(csv_path).read())))
    return rows[len(before):]


def raw_dl4j(network, threads, csv_path, repeats):
    """The bare fit as raw DL4J runs it: DL4J's own convolution helper, glibc's malloc and ND4J's BLAS threads as they
    come (./zoo4j built the jar)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env["OMP_NUM_THREADS"] = str(threads)
    before = open(csv_path).read().splitlines()[1:] if os.path.exists(csv_path) else []
    run(["java", "-Xmx4g", "-Dzoo4j.nativeMalloc=default", "-Dzoo4j.blasThreads=default",
         "-cp", "target/zoo4j.jar:target/lib/*",
         "org.zoo4j.cli.Main", "bench", "--network", network, "--mode", "fit", "--raw-dl4j",
         "--batch", str(PEERS[network][2]), "--repeats", str(repeats), "--csv", csv_path], env)
    rows = list(csv.DictReader(io.StringIO(open(csv_path).read())))
    return rows[len(before):]


def torch(peer, network, threads):
    env = dict(os.environ, BENCH_THREADS=str(threads))
    if PEERS[network][4]:
        cmd = ["/usr/bin/python3", EXTRA_PEER, PEERS[network][0], "--peer-dir", os.path.dirname(os.path.abspath(peer))]
    else:
        cmd = ["/usr/bin/python3", peer, PEERS[network][0]]
    out = run(cmd, env)
    return [json.loads(line[len("RESULT "):]) for line in out.splitlines() if line.startswith("RESULT ")]


def code_state():
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        return "commit %s%s" % (commit, " with uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"


def machine():
    model = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return "%s, %d logical cores, %s %s" % (model, os.cpu_count(), platform.system(), platform.release())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5, help="zoo4j's timed repeats per round")
    ap.add_argument("--networks", default=",".join(PEERS))
    ap.add_argument("--peer", default=os.path.join(ROOT, "..", "shared", "peers", "torch_bench.py"))
    ap.add_argument("--out", default=os.path.join(HERE, "results-%s.md" % datetime.date.today().isoformat()))
    ap.add_argument("--overwrite", action="store_true", help="replace an existing results file of the same name")
    args = ap.parse_args()
    networks = args.networks.split(",")
    for n in networks:
        if n not in PEERS:
            sys.exit("unknown network %s; one of %s" % (n, ", ".join(PEERS)))
    if not os.path.isfile(args.peer):
        sys.exit("PyTorch peer not found at %s (--peer)" % args.peer)
    csv_path = os.path.splitext(args.out)[0] + ".csv"
    for path in (args.out, csv_path):
        if os.path.exists(path) and not args.overwrite:
            sys.exit("%s exists: choose another --out, or --overwrite to replace it" % path)
    if os.path.exists(csv_path):
        os.remove(csv_path)
    state = code_state()  # before the runs: ./zoo4j rebuilds from the working tree, which must not change meanwhile
    figures = {}  # (network, side, metric) -> [values per round]
    peak = {}
    for r in range(args.rounds):
        for n in networks:
            for row in zoo4j(n, args.threads, csv_path, args.repeats) + raw_dl4j(n, args.threads, csv_path, args.repeats):
                key = {"fit": "train (bare fit)", "loop": "train (zoo4j loop)", "infer": "inference",
                       "fit-raw": "train (raw DL4J fit)"}[row["mode"]]
                figures.setdefault((n, "zoo4j", key), []).append(float(row["median_ips"]))
                if row["mode"] != "fit-raw":
                    peak[n] = max(peak.get(n, 0), float(row["peak_rss_mb"]))
            for rec in torch(args.peer, n, args.threads):
                if rec["metric"] in ("train_ips", "infer_ips"):  # the peer's rows beside zoo4j's in the raw CSV
                    with open(csv_path, "a") as f:
                        f.write("torch,%s,%s,%s,%d,1,%.1f,%.1f,%.1f,,,\n" % (
                            n, rec["metric"][:-4], rec.get("bs", ""), args.threads, rec["value"], rec["value"],
                            rec["value"]))
                if rec["metric"] == "train_ips" and rec.get("bs") == PEERS[n][2]:
                    figures.setdefault((n, "torch", "train"), []).append(rec["value"])
                elif rec["metric"] == "infer_ips":
                    figures.setdefault((n, "torch", "inference"), []).append(rec["value"])
    lines = ["# zoo4j against PyTorch, %s" % datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "",
             "Code state: %s." % state, "",
             "Machine: %s. Threads: %d (OMP_NUM_THREADS for zoo4j, torch.set_num_threads for PyTorch)." % (
                 machine(), args.threads),
             "Command: `/usr/bin/python3 training/benchmarks/compare_torch.py --rounds %d --threads %d --networks %s`"
             % (args.rounds, args.threads, args.networks), "",
             "Images/s, median over %d alternating rounds (each zoo4j figure itself the median of %d timed repeats); "
             "ratio = zoo4j / PyTorch. Raw rows: `%s`." % (args.rounds, args.repeats, os.path.basename(csv_path)), "",
             "Raw DL4J fit: the same network and batches with DL4J's own oneDNN convolution helper, glibc's default "
             "malloc settings and ND4J's OpenBLAS threads (`bench --raw-dl4j`, `-Dzoo4j.nativeMalloc=default "
             "-Dzoo4j.blasThreads=default`); bare fit and loop: as zoo4j trains it.", "",
             "| network | batch | PyTorch train | raw DL4J fit | zoo4j bare fit | fit vs raw | zoo4j loop | loop vs fit "
             "| loop / PyTorch | PyTorch infer | zoo4j infer | infer ratio | zoo4j peak RSS MB |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for n in networks:
        med = {k[1:]: statistics.median(v) for k, v in figures.items() if k[0] == n}
        t, f = med[("torch", "train")], med[("zoo4j", "train (bare fit)")]
        raw = med[("zoo4j", "train (raw DL4J fit)")]
        ti, zi = med[("torch", "inference")], med[("zoo4j", "inference")]
        if ("zoo4j", "train (zoo4j loop)") in med:
            l = med[("zoo4j", "train (zoo4j loop)")]
            loop, vs_fit, ratio = "%.0f" % l, "%+.1f%%" % (100 * (l / f - 1)), "%.2fx" % (l / t)
        else:  # random images: no loop; the bare fit against PyTorch
            loop, vs_fit, ratio = "-", "-", "%.2fx (bare fit)" % (f / t)
        lines.append("| %s | %d | %.0f | %.0f | %.0f | %.2fx | %s | %s | %s | %.0f | %.0f | %.2fx | %.0f |" % (
            n, PEERS[n][2], t, raw, f, f / raw, loop, vs_fit, ratio, ti, zi, zi / ti, peak[n]))
    text = "\n".join(lines) + "\n"
    with open(args.out, "w") as f:
        f.write(text)
    print(text)
    print("written: %s and %s" % (args.out, csv_path))


if __name__ == "__main__":
    main()
