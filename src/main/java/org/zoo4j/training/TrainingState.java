package org.zoo4j.training;

import java.util.List;

/**
 * Where a run stands, stored in each checkpoint ({@value ModelFile#STATE}) so that a resumed run continues exactly.
 *
 * @param epochsDone     complete epochs trained
 * @param batchesDone    batches of the next epoch already trained (non-zero only in a checkpoint written on Ctrl-C)
 * @param bestEpoch      epoch (from 1) of the best validation metric so far; 0 before the first
 * @param bestMetric     that metric's value
 * @param sinceBest      epochs since the best one, for early stopping
 * @param history        the metrics of every complete epoch
 */
public record TrainingState(int epochsDone, int batchesDone, int bestEpoch, double bestMetric, int sinceBest,
                            List<EpochMetrics> history) {
    public TrainingState {
        history = history == null ? List.of() : List.copyOf(history);
    }

    static TrainingState start() {
        return new TrainingState(0, 0, 0, Double.NaN, 0, List.of());
    }
}
