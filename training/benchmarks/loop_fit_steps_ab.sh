#!/usr/bin/env bash
# A/B of two commits on the loop's steps against the bare fit's (org.zoo4j.bench.LoopFitSteps, in src/test): each
# commit's main classes are built in a temporary worktree, and this checkout's LoopFitSteps runs on them, one process
# per run, alternating A, B, A, B, ... with the launcher's collector settings.
#   training/benchmarks/loop_fit_steps_ab.sh ROUNDS REV_A REV_B [LoopFitSteps arguments: network batch steps ...]
# e.g. training/benchmarks/loop_fit_steps_ab.sh 3 7a6e932 HEAD lenet5 64 340 5 10 10
# Prints a header (command, commits, machine) and each run's table; run it with nothing else on the machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ $# -lt 3 ] || ! [[ $1 =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: training/benchmarks/loop_fit_steps_ab.sh ROUNDS REV_A REV_B [network batch steps warm-up-epochs pairs fit-warm-up-seconds]" >&2
  exit 2
fi
rounds=$1
revs=("$(git rev-parse --verify "$2^{commit}")" "$(git rev-parse --verify "$3^{commit}")")
shift 3
echo "# training/benchmarks/loop_fit_steps_ab.sh $rounds ${revs[0]:0:7} ${revs[1]:0:7} $*"
echo "# LoopFitSteps from $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src/test || echo ' (with uncommitted changes in src/test)'), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores"
mvn -q -B -DskipTests test-compile dependency:build-classpath -Dmdep.outputFile=target/bench.classpath >/dev/null
declare -A tree
dir=$(mktemp -d)
cleanup() {
  for side in A B; do
    [ -n "${tree[$side]:-}" ] && git worktree remove --force "${tree[$side]}" >/dev/null 2>&1 || true
  done
  rm -rf "$dir"
}
trap cleanup EXIT
i=0
for side in A B; do
  tree[$side]="$dir/$side"
  git worktree add --detach "${tree[$side]}" "${revs[$i]}" >/dev/null 2>&1
  i=$((i + 1))
  (cd "${tree[$side]}" && mvn -q -B -DskipTests compile) >"$dir/build.log" 2>&1 || {
    echo "loop_fit_steps_ab.sh: building $side failed:" >&2; tail -30 "$dir/build.log" >&2; exit 1; }
done
for ((r = 1; r <= rounds; r++)); do
  for side in A B; do
    echo "## round $r, $side: $(git -C "${tree[$side]}" rev-parse --short HEAD) (load $(cut -d' ' -f1-3 /proc/loadavg))"
    java -Xmx4g -XX:+UseSerialGC -Xmn96m -XX:SurvivorRatio=4 \
      -cp "target/test-classes:${tree[$side]}/target/classes:$(cat target/bench.classpath)" \
      org.zoo4j.bench.LoopFitSteps "$@" 2>"$dir/run.log" || {
        echo "loop_fit_steps_ab.sh: round $r, $side failed:" >&2; grep -v ' INFO ' "$dir/run.log" >&2 || true; exit 1; }
  done
done
