package org.zoo4j.training;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.zoo4j.modelfile.TrainingState;
import org.zoo4j.recipe.LoopSettings;

/**
 * The settings of a {@link TrainingLoop} run: {@link TrainingLoop#builder} starts a new run, {@link TrainingLoop#resume}
 * continues one from its checkpoint; {@link #build} checks them.
 */
public final class TrainingLoopBuilder {
    final Model network;
    final DataSetIterator train;
    DataSetIterator validation;
    DataSetIterator test;
    List<String> labels;
    LoopSettings settings = LoopSettings.of(10);
    Path runDir;
    PrintStream console = System.out;
    Map<String, String> modelEntries = Map.of();
    TrainingHooks hooks = TrainingHooks.NONE;
    String resumeAdvice;
    Supplier<Map<String, Object>> resultDetails = Map::of;
    TrainingState state;
    int statsEvery;
    DistributedTraining.Session distributed;

    TrainingLoopBuilder(Model network, DataSetIterator train) {
        TrainableNetwork.of(network); // refuses anything but the two network kinds now, not at build()
        if (train == null) {
            throw new IllegalArgumentException("the training data is required");
        }
        this.network = network;
        this.train = train;
    }

    /** Data whose metric picks the best model and drives early stopping; without it, the training loss does. */
    public TrainingLoopBuilder validation(DataSetIterator data) {
        this.validation = data;
        return this;
    }

    /** Data the best model is tested on when the run ends (results.json); none by default. */
    public TrainingLoopBuilder test(DataSetIterator data) {
        this.test = data;
        return this;
    }

    /** Class names, output i being labels.get(i); default the training iterator's labels, else "0", "1", ... */
    public TrainingLoopBuilder labels(List<String> names) {
        this.labels = names;
        return this;
    }

    /** Epochs, schedule, monitor, early stopping and workers (default 10 epochs, constant rate, one worker). */
    public TrainingLoopBuilder settings(LoopSettings loop) {
        this.settings = loop;
        return this;
    }

    /** The number of epochs, the other settings kept. */
    public TrainingLoopBuilder epochs(int epochs) {
        this.settings = settings.withEpochs(epochs);
        return this;
    }

    /** Where checkpoints, metrics, plots and the log go (required). */
    public TrainingLoopBuilder runDirectory(Path dir) {
        this.runDir = dir;
        return this;
    }

    /** Where progress and the log lines go (default standard output). */
    public TrainingLoopBuilder console(PrintStream out) {
        this.console = out;
        return this;
    }

    public TrainingLoopBuilder hooks(TrainingHooks h) {
        this.hooks = h;
        return this;
    }

    /**
     * Per-step statistics for the dashboard every {@code iterations} training iterations, appended to the run
     * directory's {@value StatsRecorder#FILE} (see {@link StatsRecorder}); 0, the default, records none.
     */
    public TrainingLoopBuilder statsEvery(int iterations) {
        if (iterations < 0) {
            throw new IllegalArgumentException("statsEvery: at least 0 (0 = off), got " + iterations);
        }
        this.statsEvery = iterations;
        return this;
    }

    /** zoo4j entries written into every model file of the run besides its state (a recipe run's card, recipe). */
    TrainingLoopBuilder modelEntries(Map<String, String> entries) {
        this.modelEntries = entries;
        return this;
    }

    /** More facts for results.json when the run ends (a recipe run: images its data could not read). */
    TrainingLoopBuilder resultDetails(Supplier<Map<String, Object>> details) {
        this.resultDetails = details;
        return this;
    }

    /** How the messages tell the user to continue the run (a recipe run: ./zoo4j train --resume DIR). */
    TrainingLoopBuilder resumeAdvice(String advice) {
        this.resumeAdvice = advice;
        return this;
    }

    /** Where the network's run stood: set when continuing from a checkpoint of it. */
    TrainingLoopBuilder state(TrainingState s) {
        this.state = s;
        return this;
    }

    /** Trains the epochs on a cluster (a recipe run's spark: section) instead of in this process. */
    TrainingLoopBuilder distributed(DistributedTraining.Session session) {
        this.distributed = session;
        return this;
    }

    public TrainingLoop build() {
        if (runDir == null) {
            throw new IllegalArgumentException("a run directory is required: runDirectory(Path)");
        }
        return new TrainingLoop(this);
    }
}
