#!/usr/bin/env bash
# zoo4j's training loop against its bare fit (`./zoo4j bench --mode fit,loop`, timed in turn on one network) after a
# warm-up of WARMUP seconds, one process per network: with a long warm-up the JIT compiler's work of a run's first
# minutes falls outside the timed runs, so loop / fit is what the loop itself costs.
#   training/benchmarks/loop_fit.sh WARMUP REPEATS NETWORK:BATCH...
# e.g. training/benchmarks/loop_fit.sh 60 6 lenet5:64 resnet20:128 vgg16-bn:64 alexnet-small:64
# Prints a header (command, commit, machine), each process's table and its loop / fit ratio of medians. Run it with
# nothing else on the machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ $# -lt 3 ] || ! [[ $1 =~ ^[0-9]+$ ]] || ! [[ $2 =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: training/benchmarks/loop_fit.sh WARMUP REPEATS NETWORK:BATCH... (WARMUP seconds >= 0, REPEATS >= 1)" >&2
  exit 2
fi
warmup=$1 repeats=$2
shift 2
out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
echo "# training/benchmarks/loop_fit.sh $warmup $repeats $*"
echo "# commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src pom.xml || echo ' (with uncommitted changes in src or pom.xml)'), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
for pair in "$@"; do
  network=${pair%%:*} batch=${pair#*:}
  if [ "$network" = "$pair" ] || ! [[ $batch =~ ^[1-9][0-9]*$ ]]; then
    echo "loop_fit.sh: NETWORK:BATCH, e.g. resnet20:128; got '$pair'" >&2
    exit 2
  fi
  echo "## $network, batch $batch: ./zoo4j bench --network $network --batch $batch --mode fit,loop --repeats $repeats --warmup-seconds $warmup ($(date -u '+%H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg))"
  if ! ./zoo4j bench --network "$network" --batch "$batch" --mode fit,loop --repeats "$repeats" \
      --warmup-seconds "$warmup" >"$out" 2>"$err"; then
    echo "loop_fit.sh: the bench failed; its log without INFO lines:" >&2
    grep -v ' INFO ' "$err" >&2 || true
    exit 1
  fi
  grep -v '^$' "$out"
  awk '$2 == "fit" { gsub(",", "", $5); fit = $5 } $2 == "loop" { gsub(",", "", $5); loop = $5 }
       END { if (fit > 0 && loop > 0) printf "loop / fit %.3f\n", loop / fit }' "$out"
done
