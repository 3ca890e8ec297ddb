package org.zoo4j.training;

import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.function.UnaryOperator;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.deeplearning4j.parallelism.ParallelWrapper;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.DataSetPreProcessor;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;

/**
 * One epoch data-parallel on several workers with DL4J's ParallelWrapper: each worker trains a replica of the network
 * on its own batch and the parameters (and updater state) are averaged after every step, so {@code N} workers train
 * like one with an N times larger batch. Batches are handed out in the same order as in one-worker training. The
 * wrapper is built anew for each epoch, so that its replicas start from the learning rates the schedule has just set.
 */
final class ParallelFit {
    private ParallelFit() {
    }

    /**
     * Fits one pass over {@code train}; returns why it stopped early (see {@link TrainingLoop.BatchSink}), or null.
     * {@code stats}, where not null, is told of every replica's step and records from {@code net}.
     */
    static TrainingLoop.Status epoch(Model net, int workers, DataSetIterator train, UnaryOperator<DataSet> filter,
                                     TrainingLoop.BatchSink sink, BooleanSupplier stopRequested, StatsRecorder stats) {
        ParallelWrapper wrapper = new ParallelWrapper.Builder<>(net).workers(workers).averagingFrequency(1)
                .averageUpdaters(true).prefetchBuffer(2).reportScoreAfterAveraging(false)
                .trainingMode(ParallelWrapper.TrainingMode.AVERAGING).build();
        AtomicReference<TrainingLoop.Status> stop = new AtomicReference<>();
        StoppableIterator batches = new StoppableIterator(train, filter, () -> stop.get() != null
                || stopRequested.getAsBoolean());
        TrainingListener counter = new BaseTrainingListener() {
            @Override
            public void iterationDone(Model model, int iteration, int epoch) {
                if (stop.get() == null) {
                    Integer examples = batches.sizes.poll();
                    TrainingLoop.Status s = sink.trained(model.score(), examples == null ? 0 : examples);
                    if (s != null) {
                        stop.compareAndSet(null, s);
                    }
                }
            }
        };
        wrapper.setListeners(stats == null ? List.of(counter) : List.of(counter, stats));
        try {
            wrapper.fit(batches);
            if (wrapper.getException() != null) {
                throw new IllegalStateException("data-parallel training failed: " + wrapper.getException(),
                        wrapper.getException());
            }
        } finally {
            wrapper.shutdown();
        }
        return stop.get() != null ? stop.get() : stopRequested.getAsBoolean() ? TrainingLoop.Status.INTERRUPTED : null;
    }

    /**
     * One pass of the training iterator as ParallelWrapper takes it: it ends when told to stop, filters each batch,
     * and remembers each batch's size for the listener that counts trained images.
     */
    private static final class StoppableIterator implements DataSetIterator {
        private final DataSetIterator source;
        private final UnaryOperator<DataSet> filter;
        private final BooleanSupplier stop;
        final ConcurrentLinkedQueue<Integer> sizes = new ConcurrentLinkedQueue<>();

        StoppableIterator(DataSetIterator source, UnaryOperator<DataSet> filter, BooleanSupplier stop) {
            this.source = source;
            this.filter = filter;
            this.stop = stop;
        }

        @Override
        public boolean hasNext() {
            return !stop.getAsBoolean() && source.hasNext();
        }

        @Override
        public DataSet next() {
            DataSet ds = filter.apply(source.next());
            sizes.add(ds.numExamples());
            return ds;
        }

        @Override
        public DataSet next(int num) {
            throw new UnsupportedOperationException("batches come as the source makes them");
        }

        @Override
        public int inputColumns() {
            return source.inputColumns();
        }

        @Override
        public int totalOutcomes() {
            return source.totalOutcomes();
        }

        @Override
        public boolean resetSupported() {
            return false;
        }

        @Override
        public boolean asyncSupported() {
            return false;
        }

        @Override
        public void reset() {
            throw new UnsupportedOperationException("one pass per epoch");
        }

        @Override
        public int batch() {
            return source.batch();
        }

        @Override
        public void setPreProcessor(DataSetPreProcessor preProcessor) {
            throw new UnsupportedOperationException("the source's batches are used as they are");
        }

        @Override
        public DataSetPreProcessor getPreProcessor() {
            return null;
        }

        @Override
        public List<String> getLabels() {
            return source.getLabels();
        }
    }
}
