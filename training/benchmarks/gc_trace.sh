#!/usr/bin/env bash
# The serial collector's young collections during one `./zoo4j bench` process: for each, when it came, how much had
# survived one collection (age 1, which the survivor space must hold) and how much the old generation grew.
#   training/benchmarks/gc_trace.sh [zoo4j bench options...]
# e.g. training/benchmarks/gc_trace.sh --network lenet5 --batch 64 --mode loop --repeats 5 --iterations 300
# Prints a header (command, commit, machine), one line per young collection, a summary of those from 10 s (the JIT
# compiler settled) to the first full collection after it (the bench's own, when a mode ends), then the bench's table.
# For the launcher's collector (./zoo4j); run it with nothing else on the machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
log=$(mktemp)
out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$log" "$out" "$err"' EXIT
echo "# training/benchmarks/gc_trace.sh $*"
echo "# commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src pom.xml || echo ' (with uncommitted changes in src or pom.xml)'), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
if ! JAVA_OPTS="${JAVA_OPTS:-} -Xlog:gc,gc+heap=info,gc+age=trace:file=$log" ./zoo4j bench "$@" >"$out" 2>"$err"; then
  echo "gc_trace.sh: the bench failed; its log without INFO lines:" >&2
  grep -v ' INFO ' "$err" >&2 || true
  exit 1
fi
echo "# time s, survived one collection MB, old generation before -> after MB, pause ms"
awk '
  /Pause Full/ && /ms$/ { t = substr($1, 2) + 0; if (t >= 10 && end == "") end = t }
  /Pause Young/ && /ms$/ { gc = $0; sub(/.*GC\(/, "", gc); sub(/\).*/, "", gc); t = substr($1, 2) + 0
                            p = $NF; sub(/ms/, "", p); pause[gc] = p; when[gc] = t; young[gc] = 1 }
  /age   1:/ { gc = $0; sub(/.*GC\(/, "", gc); sub(/\).*/, "", gc); age1[gc] = $(NF - 3) / 1048576 }
  /Tenured:/ { gc = $0; sub(/.*GC\(/, "", gc); sub(/\).*/, "", gc); s = $0; sub(/.*Tenured: /, "", s)
               split(s, kb, /K\([0-9]+K\)->|K\(/); before[gc] = kb[1] / 1024; after[gc] = kb[2] / 1024 }
  END {
    for (g = 0; g < 100000; g++) {
      if (!(g in young)) continue
      printf "%7.2f %6.2f %8.1f -> %6.1f %6.1f\n", when[g], age1[g], before[g], after[g], pause[g]
      if (when[g] >= 10 && (end == "" || when[g] < end)) { n++; grew += after[g] - before[g]; ms += pause[g]; if (first == "") first = when[g]; last = when[g] }
    }
    if (n > 1) printf "# from 10 s to %s s: %d young collections, every %.2f s, old generation +%.2f MB and %.1f ms pause each\n",
                      end == "" ? "the end" : end, n, (last - first) / (n - 1), grew / n, ms / n
  }' "$log"
echo "# the bench's table"
grep -v '^$' "$out"
