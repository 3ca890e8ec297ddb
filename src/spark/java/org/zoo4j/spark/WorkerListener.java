package org.zoo4j.spark;

import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.Serializable;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Map;
import org.apache.spark.util.CollectionAccumulator;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.zoo4j.runtime.Backend;
import org.zoo4j.runtime.LayerHelpers;

/**
 * Attached by the training masters to each worker's network on the executors: puts zoo4j's layer helpers on it (as
 * the driver has them), and records every trained batch in an accumulator: its loss, its size and the time since the
 * worker's previous batch (a training step, in nanoseconds; NaN for a task's first batch). The driver reads them for
 * the epoch's loss, the progress line and the share of time the workers spent training. With gradient sharing the
 * record goes through {@link SharedTrainers}, which also gives the network the current epoch's learning rates.
 */
final class WorkerListener extends BaseTrainingListener implements Serializable {
    private static final long serialVersionUID = 1L;

    private final CollectionAccumulator<double[]> steps;
    /** Gradient sharing: the record goes through {@link SharedTrainers} (this listener outlives its task). */
    private final boolean shared;
    /** When each network (one per trainer thread: gradient sharing's trainers share this listener) last stepped. */
    private transient Map<Model, long[]> last;

    WorkerListener(CollectionAccumulator<double[]> steps, boolean shared) {
        this.steps = steps;
        this.shared = shared;
    }

    private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
        in.defaultReadObject();
        Backend.init(); // an executor: before this JVM's first network is built
        last = Collections.synchronizedMap(new IdentityHashMap<>());
    }

    @Override
    public void iterationDone(Model model, int iteration, int epoch) {
        if (last == null) { // not deserialised (never on an executor), but be safe
            last = Collections.synchronizedMap(new IdentityHashMap<>());
        }
        long now = System.nanoTime();
        long[] previous = last.get(model);
        if (previous == null) {
            LayerHelpers.installForTraining(model); // its first batch: from the next one on with zoo4j's layer helpers
            previous = new long[1];
            last.put(model, previous);
        }
        double step = previous[0] == 0 ? Double.NaN : now - previous[0];
        previous[0] = now;
        double examples;
        try {
            examples = model.batchSize();
        } catch (RuntimeException e) {
            examples = 0;
        }
        double[] record = {model.score(), examples, step};
        if (shared) {
            SharedTrainers.applyRates(model); // the epoch's rates, for the batches after this one
            SharedTrainers.trained(record);
        } else {
            steps.add(record);
        }
    }
}
