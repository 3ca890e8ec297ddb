package org.zoo4j.sweep;

import java.util.Locale;

/** When a sweep stops trials early ({@code pruner:} in a sweep file); see {@link Pruner}. */
public sealed interface PrunerSpec {
    PrunerSpec NONE = new None();

    /** The kind as a sweep file names it: the record's name in lower case. */
    default String type() {
        return getClass().getSimpleName().toLowerCase(Locale.ROOT);
    }

    /** Every trial runs to its end. */
    record None() implements PrunerSpec {
    }

    /**
     * Successive halving at epoch rungs: rungs at {@code minEpochs * reductionFactor^k}, and 1/reductionFactor of the
     * trials at a rung go on.
     */
    record Asha(int minEpochs, int reductionFactor) implements PrunerSpec {
    }

    /**
     * Stops a trial whose value at an epoch is worse than the median of the others there, after {@code minEpochs}
     * epochs and once {@code startupTrials} trials have reported.
     */
    record Median(int minEpochs, int startupTrials) implements PrunerSpec {
    }
}
