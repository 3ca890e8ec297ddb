#!/usr/bin/env bash
# CPU time per thread of one `./zoo4j bench` process, from /proc, in slices: where the cores go besides the training
# threads (the JIT compiler, the collector, the data pipeline's workers, ND4J's and JavaCPP's deallocators).
#   training/benchmarks/threads.sh START SLICE COUNT [zoo4j bench options...]
# e.g. training/benchmarks/threads.sh 25 10 3 --network lenet5 --batch 64 --mode loop --repeats 30 --iterations 300
# Waits START seconds after the process starts, then prints COUNT slices of SLICE seconds: each thread's CPU time in
# the slice as a share of one core (threads of one name added up, "java" being the training thread and ND4J's OpenMP
# threads). Give the bench enough work to outlast START + SLICE * COUNT; run it with nothing else on the machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ $# -lt 3 ] || ! [[ $1 =~ ^[0-9]+$ && $2 =~ ^[1-9][0-9]*$ && $3 =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: training/benchmarks/threads.sh START SLICE COUNT [zoo4j bench options...]" >&2
  exit 2
fi
start=$1 slice=$2 count=$3
shift 3
echo "# training/benchmarks/threads.sh $start $slice $count $*"
echo "# commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src pom.xml || echo ' (with uncommitted changes in src or pom.xml)'), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
./zoo4j --help >/dev/null # builds the launcher's jar first, outside the timed process
out=$(mktemp)
err=$(mktemp)
./zoo4j bench "$@" >"$out" 2>"$err" &
launcher=$!
trap 'kill $launcher 2>/dev/null || true; rm -f "$out" "$err"' EXIT
failed() {
  echo "threads.sh: $1; the bench's log without INFO lines:" >&2
  grep -v ' INFO ' "$err" >&2 || true
  exit 1
}
sleep "$start"
kill -0 "$launcher" 2>/dev/null || failed "the bench had ended before ${start} s (give it more work, or a smaller START)"
pid=$(pgrep -P "$launcher" java || echo "$launcher") # the launcher execs java, so usually the same process
ticks=$(getconf CLK_TCK)
snapshot() { # name and user+system ticks of each thread
  for t in /proc/"$pid"/task/*; do
    printf '%s %s %s\n' "${t##*/}" "$(tr ' ' _ <"$t/comm")" "$(cut -d')' -f2 "$t/stat" | awk '{print $12 + $13}')"
  done 2>/dev/null | sort
}
before=$(snapshot)
for ((i = 1; i <= count; i++)); do
  sleep "$slice"
  after=$(snapshot)
  echo "## slice $i: $((start + (i - 1) * slice)) to $((start + i * slice)) s, CPU time as a share of one core"
  join <(echo "$before") <(echo "$after") | awk -v s="$slice" -v hz="$ticks" '
    { used[$2] += $5 - $3 } END { for (n in used) if (used[n] > 0) printf "%-18s %6.3f\n", n, used[n] / hz / s }' |
    sort -k2 -rn
  before=$after
done
wait "$launcher" || failed "the bench failed"
echo "## the bench's table"
grep -v '^$' "$out"
