#!/usr/bin/env bash
# JMH per-call benchmarks of the layer kernels zoo4j replaces (src/test/java/org/zoo4j/runtime/LayerKernelsBenchmark.java).
#   training/benchmarks/jmh.sh [JMH options, e.g. -p shape=128x16x32x32 -rf csv -rff out.csv]
# Builds the test classes, then runs JMH's runner on them; OMP_NUM_THREADS sets the native threads as for ./zoo4j.
set -euo pipefail
cd "$(dirname "$0")/../.."
mvn -q -B -DskipTests test-compile dependency:build-classpath -Dmdep.outputFile=target/jmh.classpath >&2
exec java -Xmx1g -cp "target/test-classes:target/classes:$(cat target/jmh.classpath)" org.openjdk.jmh.Main \
  LayerKernelsBenchmark "$@"
