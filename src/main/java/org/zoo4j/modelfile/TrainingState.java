package org.zoo4j.modelfile;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where a run stands, stored in each checkpoint ({@value ModelFile#STATE}) so that a resumed run continues exactly.
 *
 * @param epochsDone     complete epochs trained
 * @param batchesDone    batches of the next epoch already trained (non-zero only in a checkpoint written on Ctrl-C)
 * @param bestEpoch      epoch (from 1) of the best validation metric so far; 0 before the first
 * @param bestMetric     that metric's value
 * @param sinceBest      epochs since the best one, for early stopping
 * @param history        the metrics of every complete epoch
 * @param learningRates  each layer's learning rate before the schedule scaled it, by layer name; the checkpoint's
 *                       network holds the scaled ones. Null in checkpoints written before it was recorded
 */
public record TrainingState(int epochsDone, int batchesDone, int bestEpoch, double bestMetric, int sinceBest,
                            List<EpochMetrics> history, Map<String, Double> learningRates) {
    public TrainingState {
        history = history == null ? List.of() : List.copyOf(history);
        learningRates = learningRates == null ? null : Collections.unmodifiableMap(new LinkedHashMap<>(learningRates));
    }

    /** The state of a run that has not trained yet, whose layers start at {@code learningRates}. */
    public static TrainingState start(Map<String, Double> learningRates) {
        return new TrainingState(0, 0, 0, Double.NaN, 0, List.of(), learningRates);
    }

    /** This state, stopped after {@code batches} batches of the epoch after {@link #epochsDone()}. */
    public TrainingState withBatchesDone(int batches) {
        return new TrainingState(epochsDone, batches, bestEpoch, bestMetric, sinceBest, history, learningRates);
    }
}
