package org.zoo4j.bench;

import org.zoo4j.base.Choices;

/** What {@code ./zoo4j bench} measures; each mode's figures come from {@link Measurements} or {@link RunBenchmarks}. */
public enum BenchMode {
    /** DL4J's bare {@code fit} over batches in memory: the floor zoo4j's own loop is held to. */
    FIT,
    /** zoo4j's trainer through the data pipeline, with its progress, NaN check and schedule. */
    LOOP,
    /** {@code output} over batches in memory. */
    INFER,
    /** zoo4j's layer helpers against DL4J's, the same network in one process, step by step in turn. */
    HELPERS,
    /** The bare fit timed step by step, with the spread of step times. */
    STEPS,
    /** Where a training step's time goes, per native operation (ND4J's op profiler). */
    OPS,
    /** The two backward passes of the 3x3 convolutions that zoo4j's convolution helper chooses between. */
    ROUTES,
    /** The network's parameter count only: to check that a peer (the PyTorch one) builds the same network. */
    PARAMS;

    @Override
    public String toString() {
        return Choices.name(this);
    }
}
