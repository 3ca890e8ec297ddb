package org.zoo4j.training;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.zoo4j.base.ConfigException;
import org.zoo4j.data.DataPipeline;
import org.zoo4j.recipe.TrainingRecipe;

/**
 * Training epochs on a cluster instead of in this process: what {@link Trainer} uses for a recipe whose {@code spark:}
 * section names a master. The Spark build ({@code -Pspark}) provides it ({@code org.zoo4j.spark}, found through
 * {@link ServiceLoader}); the plain build has none, and such a recipe is then refused with the build flag to use.
 *
 * <p>The {@link TrainingLoop} stays in charge: it asks a {@link Session} for one epoch at a time, then validates on
 * the driver, writes the checkpoint, best model, metrics and plots, and applies the schedule, early stopping and
 * resuming exactly as for a local run.
 */
public interface DistributedTraining {
    /** What to do without the Spark build. */
    String BUILD_HINT = "build zoo4j with Spark: ZOO4J_MVN_ARGS=-Pspark ./zoo4j ... (Maven: mvn -Pspark package)";

    /**
     * Starts training {@code net} for {@code recipe}: the cluster is reached, and everything that can be checked
     * before training is (the master answers, the model fits an executor's memory, the executors can read the data),
     * so that a bad setting fails before a run directory is written. {@code runDir} may not exist yet.
     */
    Session open(TrainingRecipe recipe, DataPipeline data, ComputationGraph net, Path runDir, PrintStream console)
            throws IOException;

    /** A network being trained on a cluster; {@link #close} releases the cluster. */
    interface Session extends AutoCloseable {
        /**
         * Trains one pass over the training data, from batch {@code firstBatch} of epoch {@code epoch} (0-based), into
         * the network given to {@link #open}. Every trained batch is counted into {@code sink} (its loss and size),
         * which may answer that the epoch must stop; {@code stopRequested} is asked too. Returns why it stopped early,
         * or null. A failure of the cluster is a {@link ConfigException} that says what to change.
         */
        TrainingLoop.Status epoch(int epoch, int firstBatch, TrainingLoop.BatchSink sink, BooleanSupplier stopRequested,
                                  Consumer<String> log);

        /** One line for the run's log: where and how it trains. */
        String describe();

        @Override
        void close();
    }

    /** The build's implementation; a {@link ConfigException} naming the build flag when there is none. */
    static DistributedTraining find() {
        return find(ServiceLoader.load(DistributedTraining.class));
    }

    /** The first of {@code providers}; a {@link ConfigException} naming the build flag when there is none. */
    static DistributedTraining find(Iterable<DistributedTraining> providers) {
        try {
            Iterator<DistributedTraining> it = providers.iterator();
            if (!it.hasNext()) {
                throw new ConfigException("spark: this zoo4j build cannot train on Spark; " + BUILD_HINT);
            }
            return it.next();
        } catch (ServiceConfigurationError | LinkageError e) {
            throw new ConfigException("spark: this zoo4j build's Spark support is incomplete (" + e.getMessage()
                    + "); rebuild it: " + BUILD_HINT, e);
        }
    }
}
