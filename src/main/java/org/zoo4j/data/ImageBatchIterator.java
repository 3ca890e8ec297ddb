package org.zoo4j.data;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.SplittableRandom;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.DataSetPreProcessor;
import org.nd4j.linalg.factory.Nd4j;
import org.zoo4j.base.InputShape;

/**
 * Batches of one split as a DL4J iterator: features {@code [n, C, H, W]} float, normalised; labels one-hot
 * {@code [n, classes]}. Batches are built on the pipeline's worker threads, up to {@code prefetch} ahead, and handed
 * out in order. A batch is its reader's until it gives it back with {@link #recycle}, as zoo4j's training loop does
 * after each step: a later batch is then written into its arrays.
 *
 * <p>Everything random is derived from the seed, the epoch number and the batch number, so the batches do not depend
 * on the number of workers or on timing. A training iterator shuffles and augments anew each epoch; {@link #reset()}
 * starts the next epoch (a reset before any batch was taken keeps the epoch). Unreadable images are left out of their
 * batch and counted in {@link #skippedInEpoch()}.
 */
public final class ImageBatchIterator implements SeededEpochs {
    private static final long SHUFFLE = 1;
    private static final long AUGMENT = 2;

    private final String split;
    private final ImageSource source;
    private final int[] indices;
    private final InputShape shape;
    private final int batchSize;
    private final List<String> labels;
    private final Augmenter augmenter;
    private final boolean shuffle;
    private final Normalization normalization;
    private final long seed;
    private final ExecutorService workers;
    private final int prefetch;

    private int epoch;
    private boolean started;
    private int[] order;
    private int submitted;
    private int received;
    private final ArrayDeque<Future<Batch>> pending = new ArrayDeque<>();
    private DataSet ready;
    private long skippedInEpoch;
    private DataSetPreProcessor preProcessor;
    /** The order of the epoch {@link #batch} last built from: {epoch, order}. */
    private volatile Object[] batchOrder;
    /**
     * Arrays a batch's images are written into before their one copy into native memory, each taken by one build at a
     * time and given back after the copy: as many as builds ran at once, not one a batch (on Fashion-MNIST they were a
     * quarter of a training step's Java garbage). Less garbage spaces the young collections further apart, so more
     * survives each: the launcher's survivor spaces are sized for that (training/benchmarks/README.md, "Survivor spaces
     * of 16 MB, and the batch arrays reused").
     */
    private final ConcurrentLinkedQueue<float[]> staging = new ConcurrentLinkedQueue<>();
    /**
     * Full-size batches given back by their reader ({@link #recycle}), whose native arrays the next builds write into:
     * a new array costs its build an allocation that ND4J zero-fills, and a deallocation record for the collector
     * (a Fashion-MNIST batch of 64 built in 112 us that way, in 62 to 65 us written into a given-back one, on a worker
     * that shares 2 cores with the training step: training/benchmarks/README.md, "Batches written into the arrays of
     * earlier ones, and built in bursts").
     */
    private final ConcurrentLinkedQueue<OwnBatch> spare = new ConcurrentLinkedQueue<>();

    /** A full-size batch this iterator built; {@code lent} while its reader has it, from {@link #next} to recycle. */
    private static final class OwnBatch extends DataSet {
        final ImageBatchIterator owner;
        final AtomicBoolean lent = new AtomicBoolean();

        OwnBatch(ImageBatchIterator owner, INDArray features, INDArray labels) {
            super(features, labels);
            this.owner = owner;
        }
    }

    /** One built batch; {@code data} is null when every image in it was unreadable. */
    private record Batch(DataSet data, int skipped) {
    }

    ImageBatchIterator(String split, ImageSource source, int[] indices, InputShape shape, int batchSize,
                       List<String> labels, AugmentConfig augment, boolean shuffle, Normalization normalization,
                       long seed, ExecutorService workers, int prefetch) {
        this.split = split;
        this.source = source;
        this.indices = indices.clone();
        this.shape = shape;
        this.batchSize = batchSize;
        this.labels = List.copyOf(labels);
        this.augmenter = augment == null || augment.isNone() ? null : new Augmenter(augment);
        this.shuffle = shuffle;
        this.normalization = normalization;
        this.seed = seed;
        this.workers = workers;
        this.prefetch = prefetch;
        startEpoch(0);
    }

    /** "train", "validation" or "test". */
    public String split() {
        return split;
    }

    /** Whether this iterator augments its images (only training data does). */
    public boolean augments() {
        return augmenter != null;
    }

    /** Images in this split (unreadable ones included). */
    public int numExamples() {
        return indices.length;
    }

    @Override
    public int numBatches() {
        return (indices.length + batchSize - 1) / batchSize;
    }

    /** The current epoch number, from 0. */
    public int epoch() {
        return epoch;
    }

    @Override
    public long skippedInEpoch() {
        return skippedInEpoch;
    }

    @Override
    public void setEpoch(int e) {
        if (e < 0) {
            throw new IllegalArgumentException("epoch must be >= 0, got " + e);
        }
        startEpoch(e);
    }

    private void startEpoch(int e) {
        for (Future<Batch> f : pending) {
            f.cancel(false);
        }
        pending.clear();
        ready = null;
        epoch = e;
        started = false;
        submitted = 0;
        received = 0;
        skippedInEpoch = 0;
        int[] o = indices.clone();
        if (shuffle) {
            Splits.shuffle(o, new SplittableRandom(Splits.derive(seed, SHUFFLE, e)));
        }
        order = o;
    }

    /**
     * Tops the batches in preparation up to {@code prefetch}, once no more than half of them are left: a worker then
     * wakes for several builds in a row, not once a step. On 2 cores each wake-up takes a core from the training
     * step's two compute threads in the middle of their work (training/benchmarks/README.md, "Batches written into
     * the arrays of earlier ones, and built in bursts").
     */
    private void fill() {
        if (pending.size() > prefetch / 2) {
            return;
        }
        while (submitted < numBatches() && pending.size() < prefetch) {
            int batch = submitted++;
            int[] epochOrder = order;
            int epochNumber = epoch;
            pending.add(workers.submit(() -> build(epochOrder, epochNumber, batch)));
        }
    }

    private Batch build(int[] epochOrder, int epochNumber, int batch) {
        int images = Math.min(epochOrder.length, (batch + 1) * batchSize) - batch * batchSize;
        int values = images * shape.channels() * shape.height() * shape.width();
        float[] features = staging.poll();
        if (features == null || features.length < values) {
            features = new float[values]; // a smaller one (a last, short batch's) is dropped
        }
        try {
            return build(epochOrder, epochNumber, batch, features);
        } finally {
            staging.offer(features);
        }
    }

    /** Builds batch {@code batch}, its images written into {@code features} (as long as they need, or longer) first. */
    private Batch build(int[] epochOrder, int epochNumber, int batch, float[] features) {
        int from = batch * batchSize;
        int to = Math.min(epochOrder.length, from + batchSize);
        int c = shape.channels();
        int h = shape.height();
        int w = shape.width();
        int size = c * h * w;
        float[] scratch = augmenter == null ? null : new float[size];
        SplittableRandom rng = new SplittableRandom(Splits.derive(seed, AUGMENT, epochNumber, batch));
        int[] batchLabels = new int[to - from];
        int n = 0;
        int skipped = 0;
        for (int i = from; i < to; i++) {
            int index = epochOrder[i];
            boolean ok;
            if (augmenter == null) {
                ok = source.read(index, shape, features, n * size);
            } else {
                // Drawn before reading, so an unreadable image does not change the others' augmentation.
                Augmenter.Params params = augmenter.sample(rng, h, w);
                ok = source.read(index, shape, scratch, 0);
                if (ok) {
                    Augmenter.apply(params, scratch, 0, features, n * size, c, h, w);
                }
            }
            if (ok) {
                batchLabels[n++] = source.label(index);
            } else {
                skipped++;
            }
        }
        if (n == 0) {
            return new Batch(null, skipped);
        }
        normalization.apply(features, 0, n, c, h * w);
        float[] oneHot = new float[n * labels.size()];
        for (int i = 0; i < n; i++) {
            oneHot[i * labels.size() + batchLabels[i]] = 1f;
        }
        OwnBatch reused = n == batchSize ? spare.poll() : null;
        if (reused != null) {
            copy(features, reused.getFeatures());
            copy(oneHot, reused.getLabels());
            return new Batch(reused, skipped);
        }
        INDArray x = nativeArray(features, n, c, h, w);
        INDArray y = nativeArray(oneHot, n, labels.size());
        return new Batch(n == batchSize ? new OwnBatch(this, x, y) : new DataSet(x, y), skipped);
    }

    /**
     * Gives back a batch that {@link #next} handed out, once its reader is done with it and with every view of its
     * arrays: a later batch is written into them. Returns false, and leaves the batch alone, where it is not one to
     * write into: not handed out by {@link #next} (or given back already), a short last batch, or arrays that a
     * pre-processor replaced or masked. Batches that {@link #batch(int, int)} built are their caller's.
     */
    public boolean recycle(DataSet batch) {
        if (!(batch instanceof OwnBatch own) || own.owner != this || !own.lent.compareAndSet(true, false)) {
            return false;
        }
        if (!writable(batch.getFeatures(), batchSize, shape.channels(), shape.height(), shape.width())
                || !writable(batch.getLabels(), batchSize, labels.size())
                || batch.getFeaturesMaskArray() != null || batch.getLabelsMaskArray() != null) {
            return false;
        }
        spare.offer(own);
        return true;
    }

    /** Whether {@code array} is a whole float array of this shape in C order that a build can write into. */
    private static boolean writable(INDArray array, long... shape) {
        return array != null && !array.wasClosed() && !array.isView() && array.dataType() == DataType.FLOAT
                && array.ordering() == 'c' && Arrays.equals(array.shape(), shape)
                && array.data().length() == array.length();
    }

    private static void copy(float[] values, INDArray into) {
        into.data().asNioFloat().put(0, values, 0, (int) into.length());
    }

    /**
     * The first values of {@code values} as a new float array of {@code shape} outside any workspace, in one bulk copy:
     * ND4J's {@code create(float[], ...)} copies value by value, most of a batch's build time (training/benchmarks/
     * README.md, "Batches copied in one call"). The batch is filled as a Java array first: written image by image
     * into native memory instead (bf4e39f), the process's peak grew, as it did with the reused arrays before the
     * launcher's survivor spaces were made larger (training/benchmarks/README.md, "Batch arrays reused").
     */
    private static INDArray nativeArray(float[] values, long... shape) {
        INDArray array = Nd4j.createUninitializedDetached(DataType.FLOAT, 'c', shape);
        array.data().asNioFloat().put(0, values, 0, (int) array.length());
        return array;
    }

    /**
     * Builds batch {@code batch} (from 0) of epoch {@code epoch} now, in the calling thread, without touching the
     * iteration: the same images, order, augmentation and normalisation that {@link #next()} gives for that batch in
     * that epoch, whoever builds it. A cluster's executors build their share of an epoch this way. Safe to call from
     * several threads. A batch none of whose images can be read is a {@link DataException}.
     */
    public DataSet batch(int epoch, int batch) {
        if (epoch < 0 || batch < 0 || batch >= numBatches()) {
            throw new IllegalArgumentException("no batch " + batch + " of epoch " + epoch + " in the " + split
                    + " data (" + numBatches() + " batches an epoch)");
        }
        Object[] cached = batchOrder;
        int[] o;
        if (cached != null && (int) cached[0] == epoch) {
            o = (int[]) cached[1];
        } else {
            o = indices.clone();
            if (shuffle) {
                Splits.shuffle(o, new SplittableRandom(Splits.derive(seed, SHUFFLE, epoch)));
            }
            batchOrder = new Object[] {epoch, o};
        }
        Batch built = build(o, epoch, batch);
        if (built.data() == null) {
            throw new DataException(split + " batch " + batch + " of epoch " + epoch + " has no readable image ("
                    + built.skipped() + " unreadable); replace or remove those files");
        }
        return built.data();
    }

    @Override
    public boolean hasNext() {
        while (ready == null) {
            if (received >= numBatches()) {
                return false;
            }
            fill();
            Batch batch;
            try {
                batch = pending.poll().get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for a " + split + " batch", e);
            } catch (ExecutionException e) {
                Throwable cause = e.getCause();
                if (cause instanceof RuntimeException r) {
                    throw r;
                }
                throw new IllegalStateException(split + " batch failed: " + cause, cause);
            } catch (CancellationException e) {
                throw new IllegalStateException(split + " batch was cancelled", e);
            }
            received++;
            skippedInEpoch += batch.skipped();
            ready = batch.data();
        }
        return true;
    }

    @Override
    public DataSet next() {
        if (!hasNext()) {
            throw new NoSuchElementException("no more " + split + " batches in epoch " + epoch + "; call reset()");
        }
        DataSet batch = ready;
        ready = null;
        started = true;
        fill();
        if (batch instanceof OwnBatch own) {
            own.lent.set(true);
        }
        if (preProcessor != null) {
            preProcessor.preProcess(batch);
        }
        return batch;
    }

    /** Only the configured batch size is supported (batches are prepared ahead). */
    @Override
    public DataSet next(int num) {
        if (num != batchSize) {
            throw new UnsupportedOperationException("batches are prepared ahead at the configured size " + batchSize
                    + "; set data.batchSize instead of asking for " + num);
        }
        return next();
    }

    @Override
    public int inputColumns() {
        return shape.channels() * shape.height() * shape.width();
    }

    @Override
    public int totalOutcomes() {
        return labels.size();
    }

    @Override
    public boolean resetSupported() {
        return true;
    }

    /** False: batches are already prepared asynchronously, so DL4J need not wrap this iterator again. */
    @Override
    public boolean asyncSupported() {
        return false;
    }

    /** Starts the next epoch (new shuffle and augmentation), unless no batch of the current one was taken yet. */
    @Override
    public void reset() {
        startEpoch(started ? epoch + 1 : epoch);
    }

    @Override
    public int batch() {
        return batchSize;
    }

    /**
     * Sets an extra pre-processor, applied after the built-in normalisation (which is always applied; do not set
     * the pipeline's normaliser here).
     */
    @Override
    public void setPreProcessor(DataSetPreProcessor preProcessor) {
        this.preProcessor = preProcessor;
    }

    @Override
    public DataSetPreProcessor getPreProcessor() {
        return preProcessor;
    }

    @Override
    public List<String> getLabels() {
        return labels;
    }
}
