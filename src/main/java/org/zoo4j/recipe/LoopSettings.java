package org.zoo4j.recipe;

import org.zoo4j.base.ConfigException;

/**
 * How the epoch loop runs: the part of a recipe that {@code org.zoo4j.training.TrainingLoop} reads, also given to it
 * directly by Java code that trains its own network on its own data. A checkpoint keeps it, so a run resumes with it.
 *
 * @param epochs        passes over the training data
 * @param schedule      learning-rate schedule over epochs: it scales each layer's own starting rate
 * @param monitor       validation metric that picks the best model and drives early stopping
 * @param earlyStopping stop when the monitored metric has not improved for this many epochs; 0 = off
 * @param workers       network replicas trained data-parallel with DL4J's ParallelWrapper, each on its own batch, with
 *                      parameters averaged after every step: GPUs on the CUDA build, threads sharing the cores on the
 *                      CPU build. 1 = no replicas. N workers train like one with an N times larger batch
 */
public record LoopSettings(int epochs, LrSchedule schedule, Monitor monitor, int earlyStopping, int workers) {
    public LoopSettings {
        if (epochs < 1) {
            throw new ConfigException("epochs: must be at least 1, got " + epochs);
        }
        schedule = schedule == null ? LrSchedule.CONSTANT : schedule;
        monitor = monitor == null ? Monitor.ACCURACY : monitor;
        if (earlyStopping < 0) {
            throw new ConfigException("earlyStopping: must be >= 0 epochs (0 = off), got " + earlyStopping);
        }
        if (workers < 1) {
            throw new ConfigException("workers: must be at least 1, got " + workers);
        }
    }

    /** {@code epochs} epochs at a constant rate, best model by validation accuracy, no early stopping, one worker. */
    public static LoopSettings of(int epochs) {
        return new LoopSettings(epochs, LrSchedule.CONSTANT, Monitor.ACCURACY, 0, 1);
    }

    public LoopSettings withEpochs(int e) {
        return new LoopSettings(e, schedule, monitor, earlyStopping, workers);
    }
}
