#!/usr/bin/env bash
# A/B of two settings on `./zoo4j bench`, one process per run, alternating A, B, A, B, ...
# (JVM options go into JAVA_OPTS, after the launcher's defaults; see ./zoo4j):
#   training/benchmarks/ab.sh ROUNDS "settings of A" "settings of B" [zoo4j bench options...]
# A setting is a JVM option, or NAME=VALUE (capitals) for an environment variable of that run:
# e.g. training/benchmarks/ab.sh 2 -Dzoo4j.batchNorm=nd4j -Dzoo4j.batchNorm=onednn --network resnet20 --mode fit,infer
#      training/benchmarks/ab.sh 2 "" MALLOC_ARENA_MAX=2 --network lenet5 --mode fit,loop
#      training/benchmarks/ab.sh 2 -XX:+UseG1GC "" --network lenet5 --mode fit,loop   (G1 against the default)
# Prints a header (command, commit, machine, load average) and each run's table; run it with nothing else on the machine.
set -euo pipefail -f  # -f: a setting is never a file pattern
cd "$(dirname "$0")/../.."
if [ $# -lt 3 ] || ! [[ $1 =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: training/benchmarks/ab.sh ROUNDS \"settings of A\" \"settings of B\" [zoo4j bench options...] (ROUNDS >= 1)" >&2
  exit 2
fi
rounds=$1 a=$2 b=$3
shift 3
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "# training/benchmarks/ab.sh $rounds \"$a\" \"$b\" $*"
echo "# commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src pom.xml || echo ' (with uncommitted changes in src or pom.xml)'), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 1; r <= rounds; r++)); do
  for side in A B; do
    settings=$a
    [ "$side" = B ] && settings=$b
    opts="" envs=()
    for s in $settings; do
      if [[ $s =~ ^[A-Z_][A-Z0-9_]*= ]]; then envs+=("$s"); else opts="$opts $s"; fi
    done
    echo "## round $r, $side: ${envs[*]:+${envs[*]} }JAVA_OPTS=${opts# } (load $(cut -d' ' -f1-3 /proc/loadavg))"
    # The bench's log goes to a file, not into the table; a failed run shows its log's warnings and errors.
    if ! env ${envs[@]+"${envs[@]}"} JAVA_OPTS="${opts# }" ./zoo4j bench "$@" 2>"$log"; then
      echo "ab.sh: round $r, $side failed; its log without INFO lines:" >&2
      grep -v ' INFO ' "$log" >&2 || true
      exit 1
    fi
  done
done
