#!/usr/bin/env bash
# Native memory of a benchmark network's first steps: per step, resident memory, its peak, ND4J's workspaces, and the
# native allocations of 1 MB or more asked for in that step (counted by native_allocations.c, preloaded).
#   training/benchmarks/native_allocations.sh NETWORK [BATCH] [STEPS] [train|infer]
# e.g. training/benchmarks/native_allocations.sh resnet20 128 10 train
# JAVA_OPTS passes JVM options (e.g. -Dzoo4j.nativeMalloc=reuse); needs gcc and a C library with dlsym (glibc).
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ $# -lt 1 ] || [ $# -gt 4 ] || { [ $# -eq 4 ] && [ "$4" != train ] && [ "$4" != infer ]; }; then
  echo "usage: training/benchmarks/native_allocations.sh NETWORK [BATCH] [STEPS] [train|infer]" >&2
  exit 2
fi
command -v gcc >/dev/null || { echo "native_allocations.sh: needs gcc (apt-get install gcc)" >&2; exit 2; }
if [ ! -f target/bench.classpath ] || [ ! -d target/test-classes ] \
    || [ -n "$(find src pom.xml -newer target/bench.classpath -print -quit)" ]; then
  mvn -q -B -DskipTests test-compile dependency:build-classpath -Dmdep.outputFile=target/bench.classpath >&2
  touch target/bench.classpath
fi
gcc -O1 -shared -fPIC -o target/native_allocations.so training/benchmarks/native_allocations.c -ldl
log=target/native_allocations.log
table=target/native_allocations.steps
rm -f "$log"
echo "# training/benchmarks/native_allocations.sh $*"
echo "# commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src pom.xml || echo ' (with uncommitted changes in src or pom.xml)'), $(date -u '+%Y-%m-%d %H:%M UTC'), JAVA_OPTS=${JAVA_OPTS:-}"
errors=target/native_allocations.err
if ! NATIVE_ALLOCATIONS_LOG="$log" LD_PRELOAD="$PWD/target/native_allocations.so" \
    java -Xmx4g ${JAVA_OPTS:-} -cp "target/test-classes:target/classes:$(cat target/bench.classpath)" \
    org.zoo4j.runtime.NativeMemorySteps "$@" 2> "$errors" > "$table"; then
  echo "native_allocations.sh: the run failed (all of its output: $errors):" >&2
  grep -v " INFO " "$errors" | head -5 >&2
  exit 1
fi
# NativeMemorySteps marks the start of step 1 and the end of each step with a block of 64 MB + its number of bytes.
awk -v marker=$((64 << 20)) '
  FNR == NR {
    if ($2 >= marker && $2 < marker + 1000000) { step = $2 - marker + 1; next }
    n[step + 0]++; mb[step + 0] += $2 / 1048576; next
  }
  /^#/ { print; next }
  $1 == "step" { printf "%-8s %10s %10s %14s %12s %12s\n", $1, $2 " " $3, $4 " " $5, $6 " " $7, "allocations", "of MB"; next }
  $1 == "before" { printf "%-8s %10s %10s %14s %12d %12.1f\n", $1, $2, $3, $4, n[0], mb[0]; next }
  { printf "%-8s %10s %10s %14s %12d %12.1f\n", $1, $2, $3, $4, n[$1], mb[$1] }
' "$log" "$table"
