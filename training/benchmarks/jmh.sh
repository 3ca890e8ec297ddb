#!/usr/bin/env bash
# JMH per-call benchmarks of the layer kernels zoo4j replaces (src/test/java/org/zoo4j/runtime/LayerKernelsBenchmark.java).
#   training/benchmarks/jmh.sh [METHODS] [JMH options, e.g. -p shape=128x16x32x32 -rf csv -rff out.csv]
# METHODS, a regular expression over the benchmark methods (e.g. batchNorm, or reluTrainingStep), picks some; all
# run without it. Builds the test classes, then runs JMH's runner on them; OMP_NUM_THREADS sets the native threads as
# for ./zoo4j.
set -euo pipefail
cd "$(dirname "$0")/../.."
benchmarks=LayerKernelsBenchmark
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
  benchmarks="LayerKernelsBenchmark\.($1)"
  shift
fi
mvn -q -B -DskipTests test-compile dependency:build-classpath -Dmdep.outputFile=target/jmh.classpath >&2
exec java -Xmx1g -cp "target/test-classes:target/classes:$(cat target/jmh.classpath)" org.openjdk.jmh.Main \
  "$benchmarks" "$@"
