package org.zoo4j.spark;

import java.util.Locale;
import java.util.Map;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.zoo4j.base.InputShape;
import org.zoo4j.recipe.SparkSettings;

/**
 * The native memory one training task needs on an executor, estimated before anything starts: a model that does not
 * fit makes the executor die of "Physical memory usage is too high" (exit code 52) again and again, and the driver
 * reports only a failed aggregation stage after several minutes.
 *
 * <p>Per task, in 4-byte floats: the network's parameters, its gradients and its updater state (Adam: two values per
 * parameter); the copies of parameters and updater state that come with the broadcast and go back for averaging (or,
 * with gradient sharing, the encoding buffers and residual); and the activations of a batch, kept for the backward
 * pass and matched by their gradients, with workspace room: three times their size.
 */
record ModelMemory(long parameters, long updaterState, long activationsPerExample, int batchSize, long bytesPerTask) {

    static ModelMemory of(ComputationGraph net, InputShape input, int batchSize) {
        long params = net.numParams();
        long updater = net.getUpdater() == null || net.getUpdater().getStateViewArray() == null ? 0
                : net.getUpdater().getStateViewArray().length();
        long activations = 0;
        Map<String, InputType> types = net.getConfiguration().getLayerActivationTypes(
                InputType.convolutional(input.height(), input.width(), input.channels()));
        for (InputType t : types.values()) {
            activations += t.arrayElementsPerExample();
        }
        long floats = 3 * (params + updater) + 2 * params + 3 * activations * batchSize;
        return new ModelMemory(params, updater, activations, batchSize, 4 * floats);
    }

    /** The tasks that share one executor's memory: N of local[N] (the driver's JVM), else the executor's cores. */
    static int tasksPerExecutor(SparkSettings settings, String master) {
        int local = SparkClusters.localSlots(master);
        return local > 0 ? local : Math.max(1, settings.executorCores());
    }

    /** Native memory one executor may use: this JVM's limit in local mode, else spark.executorMemory. */
    static long executorLimit(SparkSettings settings, String master) {
        return SparkClusters.isLocal(master) ? org.bytedeco.javacpp.Pointer.maxBytes() : settings.executorMemoryBytes();
    }

    /** A message that says what to change when {@code tasks} tasks of this model do not fit in {@code limit}; or null. */
    String check(String model, int tasks, long limit, boolean local) {
        long need = tasks * bytesPerTask;
        if (need <= limit) {
            return null;
        }
        return String.format(Locale.ROOT, "spark: %s needs about %s on each executor (%d task%s x %s: %,d parameters "
                        + "with gradients, updater state and the averaging copies, and the activations of a batch of %d), "
                        + "more than the %s %s; %s", model, SparkClusters.size(need), tasks, tasks == 1 ? "" : "s",
                SparkClusters.size(bytesPerTask), parameters, batchSize, SparkClusters.size(limit),
                local ? "this JVM allows ND4J (its -Xmx, or -Dorg.bytedeco.javacpp.maxbytes)"
                        : "spark.executorMemory gives",
                local ? "give the JVM more memory (JAVA_OPTS=-Xmx8g ./zoo4j ...), or fewer tasks (local[1]) or a smaller "
                        + "data.batchSize"
                        : "set spark.executorMemory=" + Math.max(1, (need * 5 / 4 + (1L << 30) - 1) >> 30)
                        + "g (and give the workers that much), or fewer spark.executorCores or a smaller data.batchSize");
    }
}
