package org.zoo4j.runtime;

import java.util.Arrays;

/**
 * Time and calls per kind of primitive of {@link OneDnnConvolutionHelper}, which ND4J's op profiler cannot see (it
 * calls oneDNN itself, not through an ND4J op). Counts only while {@link #on} is set, for the benchmarks; off, it costs
 * a field read per primitive.
 */
public final class ConvolutionProfile {
    static volatile boolean on;
    static final long[] NANOS = new long[Part.values().length];
    static final long[] CALLS = new long[Part.values().length];

    /** A kind of primitive the helper runs. */
    public enum Part { ACTIVATION_REORDERS, WEIGHT_REORDERS, FORWARD, BACKWARD_DATA, BACKWARD_WEIGHTS }

    /** One part's totals since {@link #start}. */
    public record Total(Part part, long calls, long nanos) {
    }

    private ConvolutionProfile() {
    }

    /** Clears the totals and starts counting. */
    public static void start() {
        reset();
        on = true;
    }

    /** Stops counting; returns the totals of the parts that ran. */
    public static Total[] stop() {
        on = false;
        return Arrays.stream(Part.values()).filter(p -> CALLS[p.ordinal()] > 0)
                .map(p -> new Total(p, CALLS[p.ordinal()], NANOS[p.ordinal()])).toArray(Total[]::new);
    }

    static long begin() {
        return on ? System.nanoTime() : 0;
    }

    static void add(Part part, long start) {
        if (on) {
            NANOS[part.ordinal()] += System.nanoTime() - start;
            CALLS[part.ordinal()]++;
        }
    }

    static void reset() {
        Arrays.fill(NANOS, 0);
        Arrays.fill(CALLS, 0);
    }
}
