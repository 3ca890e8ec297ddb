package org.zoo4j.training;

import java.util.function.UnaryOperator;
import org.nd4j.linalg.dataset.DataSet;
import org.zoo4j.modelfile.EpochMetrics;
import org.zoo4j.modelfile.TrainingState;

/**
 * What a caller attaches to a run: an {@link EpochListener}, and a filter that every training batch passes through
 * before it is trained on (mixing or corrupting batches: mixup, fault injection in tests). A batch of zoo4j's own data
 * pipeline is given back to it after its step, which writes a later batch into its arrays (or freed, where not taken
 * back): a filter that keeps one for later keeps a copy ({@code DataSet.copy()}).
 */
public record TrainingHooks(EpochListener onEpoch, UnaryOperator<DataSet> batchFilter) {
    /**
     * Told after every epoch, once its checkpoint is written; a non-null answer stops the run as
     * {@link TrainingLoop.Status#PRUNED} with that reason (a sweep's pruner). {@code state} includes the epoch.
     */
    @FunctionalInterface
    public interface EpochListener {
        String afterEpoch(EpochMetrics epoch, TrainingState state);
    }

    public static final TrainingHooks NONE = new TrainingHooks((m, s) -> null, UnaryOperator.identity());

    public TrainingHooks {
        onEpoch = onEpoch == null ? NONE.onEpoch : onEpoch;
        batchFilter = batchFilter == null ? UnaryOperator.identity() : batchFilter;
    }

    public TrainingHooks withOnEpoch(EpochListener listener) {
        return new TrainingHooks(listener, batchFilter);
    }

    public TrainingHooks withBatchFilter(UnaryOperator<DataSet> filter) {
        return new TrainingHooks(onEpoch, filter);
    }
}
