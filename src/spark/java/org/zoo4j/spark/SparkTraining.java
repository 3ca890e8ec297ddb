package org.zoo4j.spark;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.api.java.function.Function;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.zoo4j.base.ConfigException;
import org.zoo4j.data.DataException;
import org.zoo4j.data.DataPipeline;
import org.zoo4j.recipe.SparkSettings;
import org.zoo4j.recipe.TrainingRecipe;
import org.zoo4j.training.DistributedTraining;

/**
 * zoo4j's training on Spark, found by {@link DistributedTraining#find()} in the Spark build. Before a run directory is
 * written it checks, in this order, what would otherwise fail late or unclearly: that the model fits an executor's
 * memory ({@link ModelMemory}); the JVM's module options and the master's port ({@link SparkClusters#preflight});
 * that an executor starts; and that the executors can read the training data.
 */
public final class SparkTraining implements DistributedTraining {
    @Override
    public Session open(TrainingRecipe recipe, DataPipeline data, ComputationGraph net, Path runDir,
                        PrintStream console) {
        SparkSettings settings = recipe.spark();
        String master = SparkClusters.submitted() ? System.getProperty("spark.master") : settings.master();
        ModelMemory memory = ModelMemory.of(net, data.shape(), recipe.data().batchSize());
        String tooBig = memory.check(recipe.model(), ModelMemory.tasksPerExecutor(settings, master),
                ModelMemory.executorLimit(settings, master), SparkClusters.isLocal(master));
        if (tooBig != null) {
            throw new ConfigException(tooBig);
        }
        SparkClusters.preflight(settings);
        SparkClusters.Cluster cluster = SparkClusters.start(settings, "zoo4j train " + runDir.getFileName(), console);
        ExecutorData.Spec spec = ExecutorData.Spec.of(data);
        try {
            if (cluster.local()) {
                ExecutorData.share(spec, data);
            }
            if (settings.data() == SparkSettings.DataSource.PIPELINE) {
                checkData(cluster, spec, data);
            }
            return new SparkEpochs(recipe, data, net, runDir, cluster, spec);
        } catch (RuntimeException e) {
            ExecutorData.unshare(spec);
            cluster.close();
            throw e;
        }
    }

    /** Opens the training data on every task slot; a {@link DataException} that says what to change if one cannot. */
    static void checkData(SparkClusters.Cluster cluster, ExecutorData.Spec spec, DataPipeline data) {
        int slots = cluster.local() ? 1 : Math.max(1, cluster.slots()); // local[N]: its tasks share this JVM
        List<Integer> tasks = new ArrayList<>();
        for (int i = 0; i < slots; i++) {
            tasks.add(i);
        }
        List<String> failures = cluster.context().parallelize(tasks, slots).map(new DataCheck(spec)).collect();
        for (String failure : failures) {
            if (!failure.isEmpty()) {
                throw new DataException("spark: the executors cannot read the training data of "
                        + data.config().dataset() + " (" + failure + "); give data.path a folder every worker can "
                        + "read at the same path (a shared filesystem), or set spark.data=export to send them the "
                        + "batches through spark.exportDirectory");
            }
        }
    }

    /** Runs on an executor: opens the data there; empty, or where and what failed. */
    static final class DataCheck implements Function<Integer, String> {
        private static final long serialVersionUID = 1L;
        private final ExecutorData.Spec spec;

        DataCheck(ExecutorData.Spec spec) {
            this.spec = spec;
        }

        @Override
        public String call(Integer slot) {
            String failure = ExecutorData.check(spec);
            return failure == null ? "" : "on " + Hosts.here() + ": " + failure;
        }
    }
}
