package org.zoo4j.bench;

import org.zoo4j.base.ConfigException;

/**
 * How much to measure: untimed warm-up of at least {@code warmup} iterations and {@code warmupSeconds} seconds (so that
 * the JIT compiler, which competes with the compute threads for the cores, has settled), then {@code repeats} timed
 * runs of {@code iterations}.
 */
public record Plan(int warmup, double warmupSeconds, int repeats, int iterations) {
    public Plan {
        if (warmup < 0 || warmupSeconds < 0 || repeats < 1 || iterations < 1) {
            throw new ConfigException("benchmark plan: warmup >= 0, warm-up seconds >= 0, repeats >= 1, "
                    + "iterations >= 1; got " + warmup + ", " + warmupSeconds + ", " + repeats + ", " + iterations);
        }
    }

    /** Whether warm-up goes on after {@code done} iterations started at {@code startNanos}. */
    boolean warming(int done, long startNanos) {
        return done < warmup || (System.nanoTime() - startNanos) / 1e9 < warmupSeconds;
    }

    /** Timed steps in all. */
    int steps() {
        return repeats * iterations;
    }
}
