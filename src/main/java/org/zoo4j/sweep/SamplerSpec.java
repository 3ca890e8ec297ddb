package org.zoo4j.sweep;

import java.util.Locale;

/**
 * How a sweep chooses its candidates ({@code strategy:} in a sweep file). Every kind is seeded: the same seed gives
 * the same candidates.
 */
public sealed interface SamplerSpec {
    /** The kind as a sweep file names it: the record's name in lower case. */
    default String type() {
        return getClass().getSimpleName().toLowerCase(Locale.ROOT);
    }

    long seed();

    /** Arbiter's random search. */
    record Random(long seed) implements SamplerSpec {
    }

    /** Arbiter's grid search in order, with {@code points} values along each continuous parameter. */
    record Grid(long seed, int points) implements SamplerSpec {
    }

    /** Arbiter's genetic search with a population of {@code population}. */
    record Genetic(long seed, int population) implements SamplerSpec {
    }

    /** zoo4j's tree-structured Parzen estimator, after {@code startupTrials} random trials. */
    record Tpe(long seed, int startupTrials) implements SamplerSpec {
    }
}
