#!/usr/bin/env bash
# A/B of two commits on `./zoo4j bench`, for a change that has no switch: each commit is checked out in its own
# temporary worktree and built by its own launcher there, then one process per run, alternating A, B, A, B, ...
#   training/benchmarks/commits_ab.sh ROUNDS REV_A REV_B [zoo4j bench options...]
# e.g. training/benchmarks/commits_ab.sh 2 9e9af14 6c88629 --network vgg16-bn --batch 64 --mode loop --repeats 3
# Prints a header (command, commits, machine, load average) and each run's table; run it with nothing else on the
# machine. The worktrees are removed at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ $# -lt 3 ] || ! [[ $1 =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: training/benchmarks/commits_ab.sh ROUNDS REV_A REV_B [zoo4j bench options...] (ROUNDS >= 1)" >&2
  exit 2
fi
rounds=$1
shift
declare -A tree
dir=$(mktemp -d)
log="$dir/bench.log"
cleanup() {
  for side in A B; do
    [ -n "${tree[$side]:-}" ] && git worktree remove --force "${tree[$side]}" >/dev/null 2>&1 || true
  done
  rm -rf "$dir"
}
trap cleanup EXIT
echo "# training/benchmarks/commits_ab.sh $rounds $*"
# Resolved once, now: a name such as HEAD may move while side A builds.
revs=("$(git rev-parse --verify "$1^{commit}")" "$(git rev-parse --verify "$2^{commit}")")
shift 2
echo "# A = ${revs[0]:0:7}, B = ${revs[1]:0:7}, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores"
i=0
for side in A B; do
  tree[$side]="$dir/$side"
  git worktree add --detach "${tree[$side]}" "${revs[$i]}" >/dev/null 2>&1
  i=$((i + 1))
  # the build, before any timed run; its output goes to the log
  if ! (cd "${tree[$side]}" && ./zoo4j bench --help) >"$log" 2>&1; then
    echo "commits_ab.sh: building $side (${revs[$((i - 1))]}) failed:" >&2
    tail -30 "$log" >&2
    exit 1
  fi
done
for ((r = 1; r <= rounds; r++)); do
  for side in A B; do
    echo "## round $r, $side: $(git -C "${tree[$side]}" rev-parse --short HEAD) (load $(cut -d' ' -f1-3 /proc/loadavg))"
    if ! (cd "${tree[$side]}" && ./zoo4j bench "$@") 2>"$log"; then
      echo "commits_ab.sh: round $r, $side failed; its log without INFO lines:" >&2
      grep -v ' INFO ' "$log" >&2 || true
      exit 1
    fi
  done
done
