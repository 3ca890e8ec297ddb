#!/usr/bin/env python3
"""One process against Spark on this machine: the same recipe trained three ways, one after another.

  single       ./zoo4j train RECIPE                         (zoo4j's own loop, one JVM)
  local[2]     ./zoo4j train RECIPE --spark local[2]        (Spark in the driver's JVM, 2 task slots)
  standalone   ./zoo4j train RECIPE --spark spark://...     (a master and a worker started here as separate JVMs on
                                                             127.0.0.1; the executor is a third JVM)

For each network and way it records, from the run's own files: validation accuracy and images/s per epoch
(metrics.csv), test accuracy (results.json), and for Spark runs the share of the workers' time spent in training steps
against communication and waiting, as the driver logs it per epoch (train.log, "spark epoch N: ..."). Then writes a
Markdown file and a CSV with a row per run and epoch. Spark runs use the recipe's defaults: parameter averaging every 5
batches, one batch of the recipe's size per worker, the learning rate not scaled.

  python3 training/benchmarks/spark_compare.py [--networks lenet5,resnet20] [--epochs 3] [--margin 1.0]
      [--out training/benchmarks/spark-DATE-COMMIT.md] [--runs DIR]
  lenet5 trains on the whole Fashion-MNIST training split (or --lenet-subset images); resnet20 on --resnet-subset
  images of it (default 12000).

"Epochs to target": the first epoch whose validation accuracy reaches the single process's best less --margin points.
Builds with ZOO4J_MVN_ARGS=-Pspark ./zoo4j first; needs dataset-fashion-mnist (data/install.sh).
"""
import argparse
import csv
import datetime
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))
from provenance import code_state, commit, machine  # noqa: E402 (training/provenance.py)
RECIPES = {"lenet5": "training/lenet5-fashion-mnist.yaml", "resnet20": "training/resnet20-fashion-mnist.yaml"}
WAYS = ["single", "local[2]", "standalone"]
SPARK_EPOCH = re.compile(r"spark epoch (\d+): (\d+) batches on (\d+) workers in ([\d.]+) s, (\d+) img/s; a training "
                         r"step (\d+) ms in a worker; steps (\d+)% of the workers' time, communication and waiting "
                         r"(\d+)%")
# What Spark's daemons need on Java 17 (the launcher's list; SparkClusters.JAVA_OPTIONS in the code).
OPENS = ["--add-opens=java.base/" + p + "=ALL-UNNAMED" for p in
         ["java.lang", "java.lang.invoke", "java.lang.reflect", "java.io", "java.net", "java.nio", "java.util",
          "java.util.concurrent", "java.util.concurrent.atomic", "jdk.internal.ref", "sun.nio.ch", "sun.nio.cs",
          "sun.security.action", "sun.util.calendar"]] + ["-Djdk.reflect.useDirectMethodHandle=false"]


def spark_env():
    env = dict(os.environ)
    env["ZOO4J_MVN_ARGS"] = "-Pspark"
    return env


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A standalone master and one worker (2 cores), as the cluster test tier starts them."""

    def __init__(self, logs, worker_memory):
        self.logs = logs
        home = os.path.join(logs, "spark-home")
        os.makedirs(os.path.join(home, "jars"), exist_ok=True)  # Spark wants SPARK_HOME/jars, even empty
        env = dict(os.environ, SPARK_HOME=home, SPARK_SCALA_VERSION="2.12", SPARK_LOCAL_IP="127.0.0.1")
        cp = os.path.join(ROOT, "target", "zoo4j.jar") + ":" + os.path.join(ROOT, "target", "lib", "*")
        port = free_port()
        self.master = "spark://127.0.0.1:%d" % port
        java = ["java", "-Xmx256m"] + OPENS + ["-cp", cp]
        self.procs = [self.daemon(java + ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port",
                                          str(port), "--webui-port", str(free_port())], "master", env)]
        deadline = time.time() + 90
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                if time.time() > deadline:
                    self.close()
                    sys.exit("the Spark master did not start; see " + os.path.join(logs, "master.log"))
                time.sleep(0.5)
        self.procs.append(self.daemon(java + ["org.apache.spark.deploy.worker.Worker", self.master, "--host",
                                              "127.0.0.1", "--port", str(free_port()), "--webui-port",
                                              str(free_port()), "--cores", "2", "--memory", worker_memory,
                                              "--work-dir", os.path.join(logs, "work")], "worker", env))

    def daemon(self, cmd, name, env):
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=open(os.path.join(self.logs, name + ".log"), "w"),
                                stderr=subprocess.STDOUT, start_new_session=True)

    def close(self):
        for p in reversed(self.procs):
            try:
                os.killpg(p.pid, 15)
            except ProcessLookupError:
                pass
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, 9)


def train(network, way, args, out, cluster):
    cmd = ["./zoo4j", "train", RECIPES[network], "--epochs", str(args.epochs), "--out", out]
    subset = args.resnet_subset if network == "resnet20" else args.lenet_subset
    if subset:
        cmd += ["--subset", str(subset)]
    if way == "local[2]":
        cmd += ["--spark", "local[2]"]
    elif way == "standalone":
        cmd += ["--spark", cluster.master]
    print("$ " + " ".join(cmd), flush=True)
    started = time.time()
    p = subprocess.run(cmd, cwd=ROOT, env=spark_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.time() - started
    if p.returncode != 0:
        sys.exit("failed (exit %d):\n%s" % (p.returncode, p.stdout[-4000:]))
    return cmd, wall


def read_run(out):
    with open(os.path.join(out, "metrics.csv")) as f:
        epochs = list(csv.DictReader(f))
    with open(os.path.join(out, "results.json")) as f:
        results = json.load(f)
    with open(os.path.join(out, "train.log")) as f:
        spark = {int(m.group(1)): m for m in SPARK_EPOCH.finditer(f.read())}
    return epochs, results, spark


def median(values):
    values = sorted(values)
    n = len(values)
    return float("nan") if n == 0 else (values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--networks", default="lenet5,resnet20")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--resnet-subset", type=int, default=12000)
    ap.add_argument("--lenet-subset", type=int, default=0, help="0: the whole training split")
    ap.add_argument("--margin", type=float, default=1.0, help="points below the single process's best (target)")
    ap.add_argument("--worker-memory", default="8g")
    ap.add_argument("--runs", help="where the runs go (default: a temporary folder, deleted)")
    ap.add_argument("--out")
    args = ap.parse_args()
    networks = args.networks.split(",")
    for n in networks:
        if n not in RECIPES:
            sys.exit("--networks: %s is not one of %s" % (n, ", ".join(RECIPES)))
    commit_hash, code = commit(), code_state()
    today = datetime.date.today().isoformat()
    out_md = args.out or os.path.join(HERE, "spark-%s-%s.md" % (today, commit_hash))
    out_csv = os.path.splitext(out_md)[0] + ".csv"
    command = "python3 training/benchmarks/spark_compare.py --networks %s --epochs %d --resnet-subset %d " \
              "--lenet-subset %d --margin %s --worker-memory %s" % (args.networks, args.epochs, args.resnet_subset,
                                                                    args.lenet_subset, args.margin, args.worker_memory)

    print("$ ZOO4J_MVN_ARGS=-Pspark ./zoo4j info", flush=True)
    subprocess.run(["./zoo4j", "info"], cwd=ROOT, env=spark_env(), check=True, stdout=subprocess.DEVNULL)
    runs = args.runs or tempfile.mkdtemp(prefix="zoo4j-spark-compare-")
    os.makedirs(runs, exist_ok=True)
    cluster = Cluster(runs, args.worker_memory)
    table = {}
    try:
        for network in networks:
            for way in WAYS:
                out = os.path.join(runs, "%s-%s" % (network, way.replace("[", "").replace("]", "")))
                cmd, wall = train(network, way, args, out, cluster)
                table[(network, way)] = (cmd, wall) + read_run(out)
    finally:
        cluster.close()

    rows = []
    for (network, way), (cmd, wall, epochs, results, spark) in table.items():
        for e in epochs:
            n = int(e["epoch"])
            s = spark.get(n)
            rows.append({"network": network, "way": way, "epoch": n,
                         "validation_accuracy": e["validation_accuracy"], "seconds": e["seconds"],
                         "images_per_second": e["images_per_second"],
                         "spark_step_share": s.group(7) if s else "", "spark_communication_share": s.group(8) if s
                         else "", "spark_step_ms": s.group(6) if s else "",
                         "test_accuracy": results.get("testAccuracy") if n == len(epochs) else ""})
    with open(out_csv, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)

    lines = ["# One process against Spark on one machine (%s, %s)" % (today, code), "",
             "Command: `%s`  " % command, "Machine: %s; Java %s.  " % (machine(), java_version()),
             "Raw figures: `%s` (a row per run and epoch)." % os.path.basename(out_csv), "",
             "Each run: `./zoo4j train` of the network's recipe with `--epochs %d`%s, one after another on the same "
             "idle machine. Spark: parameter averaging every 5 batches (the default), a batch of the recipe's size per "
             "worker (2 workers: twice the images per averaged step), learning rate not scaled. images/s: median over "
             "the epochs after the first (the first also starts Spark's executors and JIT-compiles). Target: the "
             "single process's best validation accuracy less %s points." % (
                 args.epochs, subsets(args, networks),
                 args.margin), "",
             "| network | way | images/s | vs single | validation accuracy by epoch | epochs to target | test accuracy "
             "| training steps / communication and waiting (share of workers' time, by epoch) |",
             "|---|---|---|---|---|---|---|---|"]
    for network in networks:
        single = table[(network, "single")]
        target = max(float(e["validation_accuracy"]) for e in single[2]) - args.margin / 100
        single_speed = median([float(e["images_per_second"]) for e in single[2][1:]] or
                              [float(single[2][0]["images_per_second"])])
        for way in WAYS:
            cmd, wall, epochs, results, spark = table[(network, way)]
            speed = median([float(e["images_per_second"]) for e in epochs[1:]] or
                           [float(epochs[0]["images_per_second"])])
            reached = next((int(e["epoch"]) for e in epochs if float(e["validation_accuracy"]) >= target), None)
            shares = ", ".join("%s/%s%%" % (spark[n].group(7), spark[n].group(8)) for n in sorted(spark)) or "-"
            lines.append("| %s | %s | %.0f | %.3f | %s | %s | %.2f%% | %s |" % (
                network, way, speed, speed / single_speed,
                " ".join("%.2f%%" % (100 * float(e["validation_accuracy"])) for e in epochs),
                reached if reached else "not in %d" % len(epochs), 100 * results.get("testAccuracy", float("nan")),
                shares))
    lines += ["", "Target accuracies: " + ", ".join(
        "%s %.2f%%" % (n, 100 * (max(float(e["validation_accuracy"]) for e in table[(n, "single")][2])
                                 - args.margin / 100)) for n in networks) + ".", ""]
    with open(out_md, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))
    print("wrote %s and %s" % (out_md, out_csv))


def subsets(args, networks):
    """The data each network trained on, in words."""
    parts = []
    for n in networks:
        subset = args.resnet_subset if n == "resnet20" else args.lenet_subset
        parts.append("%s on %s" % (n, "%d images" % subset if subset else "the whole training split"))
    return " (" + ", ".join(parts) + ")"


def java_version():
    p = subprocess.run(["java", "-version"], capture_output=True, text=True)
    m = re.search(r'version "([^"]+)"', p.stderr)
    return m.group(1) if m else "unknown"


if __name__ == "__main__":
    main()
