package org.zoo4j.spark;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.Success$;
import org.apache.spark.scheduler.AccumulableInfo;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerExecutorMetricsUpdate;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.zoo4j.training.TrainingLoop;
import scala.Tuple4;
import scala.collection.JavaConverters;
import scala.collection.Seq;

/**
 * Brings the workers' trained batches ({@link WorkerListener}'s accumulator) to the training loop while an epoch runs:
 * from the executors' heartbeats (every 2 s, for tasks still running) and from each finished task, every batch is
 * counted into the loop's {@link TrainingLoop.BatchSink} once, which draws the progress line, sums the loss and
 * says when to stop (a NaN loss, Ctrl-C). Runs on Spark's listener thread.
 */
final class StepFeed extends SparkListener {
    private long accumulator = -1;
    private TrainingLoop.BatchSink sink;
    private Runnable cancel;
    private final Map<Long, Integer> fed = new HashMap<>();
    private int batches;
    private double stepNanos;
    private int stepsMeasured;
    private volatile TrainingLoop.Status stopped;

    /** Starts counting the batches recorded in accumulator {@code id} into {@code sink}; {@code cancel} stops the epoch. */
    synchronized void start(long id, TrainingLoop.BatchSink target, Runnable cancelEpoch) {
        accumulator = id;
        sink = target;
        cancel = cancelEpoch;
        fed.clear();
        batches = 0;
        stepNanos = 0;
        stepsMeasured = 0;
        stopped = null;
    }

    /** Stops counting; returns {batches, summed measured step nanoseconds, measured steps}. */
    synchronized double[] end() {
        accumulator = -1;
        sink = null;
        return new double[] {batches, stepNanos, stepsMeasured};
    }

    synchronized int batches() {
        return batches;
    }

    /** Why the sink asked to stop the epoch, or null. */
    TrainingLoop.Status stopped() {
        return stopped;
    }

    @Override
    public void onExecutorMetricsUpdate(SparkListenerExecutorMetricsUpdate update) {
        for (Tuple4<Object, Object, Object, Seq<AccumulableInfo>> task
                : JavaConverters.seqAsJavaList(update.accumUpdates())) {
            feed((Long) task._1(), task._4());
        }
    }

    @Override
    public void onTaskEnd(SparkListenerTaskEnd end) {
        if (end.reason() == Success$.MODULE$) {
            feed(end.taskInfo().taskId(), end.taskInfo().accumulables());
        }
    }

    private synchronized void feed(long task, Seq<AccumulableInfo> infos) {
        if (accumulator < 0) {
            return;
        }
        for (AccumulableInfo info : JavaConverters.seqAsJavaList(infos)) {
            if (info.id() != accumulator || info.update().isEmpty()) {
                continue;
            }
            @SuppressWarnings("unchecked")
            List<double[]> steps = (List<double[]>) info.update().get();
            int done = fed.getOrDefault(task, 0);
            for (int i = done; i < steps.size(); i++) {
                double[] s = steps.get(i);
                batches++;
                if (!Double.isNaN(s[2])) {
                    stepNanos += s[2];
                    stepsMeasured++;
                }
                if (stopped == null) {
                    TrainingLoop.Status status = sink.trained(s[0], (int) s[1]);
                    if (status != null) {
                        stopped = status;
                        cancel.run();
                    }
                }
            }
            fed.put(task, Math.max(done, steps.size()));
        }
    }
}
