package org.zoo4j.data;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zoo4j.base.ConfigException;
import org.zoo4j.base.InputShape;

/**
 * The data every model trains on: a dataset read once, split (seeded, stratified) into training, validation and test
 * images, and served as DL4J iterators of NCHW float features and one-hot labels at the model's input shape.
 *
 * <p>Batches are prepared on worker threads ahead of the trainer. Their features are already normalised with
 * {@link #normalizer()} (fitted on the training split), so no pre-processor needs to be set. The training iterator
 * reshuffles and re-augments at every {@code reset()} (seeded, so a run repeats exactly); validation and test data are
 * never augmented and always come in the same order. Each of {@link #train()}, {@link #validation()} and
 * {@link #test()} returns the same iterator every time. Close the pipeline to stop its threads.
 */
public final class DataPipeline implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(DataPipeline.class);
    /** Image folders are decoded on every read, so the normaliser is fitted on at most this many training images. */
    static final int FOLDER_FIT_SAMPLE = 5000;
    private static final long SUBSET = 11;
    private static final long TEST_SPLIT = 12;
    private static final long VALIDATION_SPLIT = 13;
    private static final long FIT_SAMPLE = 14;
    private static final long LABEL_FRACTION = 15;

    private final DataConfig config;
    private final InputShape shape;
    private final DatasetLoader.Loaded data;
    private final Normalization normalization;
    private final ExecutorService workers;
    private final ImageBatchIterator train;
    private final ImageBatchIterator validation;
    private final ImageBatchIterator test;

    private DataPipeline(DataConfig config, InputShape shape, DatasetLoader.Loaded data, int[] trainIdx,
                         ImageSource validationSource, int[] validationIdx, ImageSource testSource, int[] testIdx,
                         Normalization given) {
        this.config = config;
        this.shape = shape;
        this.data = data;
        AtomicInteger threads = new AtomicInteger();
        this.workers = Executors.newFixedThreadPool(config.effectiveWorkers(), r -> {
            Thread t = new Thread(r, "zoo4j-data-" + threads.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        try {
            this.normalization = given != null ? given : fit(config, shape, data, trainIdx, workers);
        } catch (RuntimeException e) {
            workers.shutdownNow();
            throw e;
        }
        List<String> labels = data.classes();
        this.train = new ImageBatchIterator("train", data.trainPool(), trainIdx, shape, config.batchSize(), labels,
                config.augment(), true, normalization, config.seed(), workers, config.prefetch());
        this.validation = new ImageBatchIterator("validation", validationSource, validationIdx, shape,
                config.batchSize(), labels, null, false, normalization, config.seed(), workers, config.prefetch());
        this.test = new ImageBatchIterator("test", testSource, testIdx, shape, config.batchSize(), labels, null, false,
                normalization, config.seed(), workers, config.prefetch());
    }

    /** Reads (finding or downloading as needed) the dataset that {@code config} names, for a model with this input. */
    public static DataPipeline open(DataConfig config, InputShape input) {
        return open(config, input, DatasetManifest.load(), System.err);
    }

    /**
     * As {@link #open(DataConfig, InputShape)}, normalised with {@code given} instead of a normaliser fitted on the
     * training split (null: fitted): a resumed run keeps its checkpoint's, a fine-tuned one its source model's, and a
     * cluster's executors open the driver's data this way, so that their batches are the driver's own (see
     * {@link ImageBatchIterator#batch}).
     */
    public static DataPipeline open(DataConfig config, InputShape input, Normalization given) {
        return open(config, input, DatasetManifest.load(), System.err, given);
    }

    /** As {@link #open(DataConfig, InputShape)} with another manifest, and download progress to {@code progress}. */
    public static DataPipeline open(DataConfig config, InputShape input, DatasetManifest manifest, PrintStream progress) {
        return open(config, input, manifest, progress, null);
    }

    private static DataPipeline open(DataConfig config, InputShape input, DatasetManifest manifest,
                                     PrintStream progress, Normalization given) {
        if (given != null && given.mode() == NormalizationMode.STANDARDIZE && given.channels() != input.channels()) {
            throw new ConfigException("normalisation: per-channel statistics for " + given.channels() + " channels, "
                    + "but the model reads " + input.channels());
        }
        if (input.channels() != 1 && input.channels() != 3) {
            throw new ConfigException("input: image data gives 1 (grey) or 3 (RGB) channels, the model asks "
                    + "for " + input.channels());
        }
        long start = System.nanoTime();
        DatasetLoader.Loaded data = DatasetLoader.load(config, manifest, progress);
        if (config.classes() != null) {
            data = ClassSelection.select(data, config.classes());
        }
        int classes = data.classes().size();
        long seed = config.seed();

        int[] pool = Splits.range(data.trainPool().size());
        if (config.subset() != null) {
            pool = Splits.stratified(pool, data.trainPool(), classes, config.subset(), Splits.derive(seed, SUBSET, 0))[0];
        }
        ImageSource testSource = data.test() != null ? data.test() : data.trainPool();
        int[] testIdx;
        if (data.test() != null) {
            testIdx = Splits.range(data.test().size());
            if (config.subset() != null) {
                testIdx = Splits.stratified(testIdx, data.test(), classes, config.subset(), Splits.derive(seed, SUBSET, 1))[0];
            }
        } else {
            int[][] split = Splits.stratified(pool, data.trainPool(), classes,
                    (int) Math.round(config.testFraction() * pool.length), Splits.derive(seed, TEST_SPLIT));
            testIdx = split[0];
            pool = split[1];
        }
        if (config.labelFraction() != null) { // after the test split, so test images are never dropped
            int kept = Math.max(classes, (int) Math.round(config.labelFraction() * pool.length));
            pool = Splits.stratified(pool, data.trainPool(), classes, kept, Splits.derive(seed, LABEL_FRACTION))[0];
        }
        ImageSource validationSource = data.validation() != null ? data.validation() : data.trainPool();
        int[] validationIdx;
        if (data.validation() != null) {
            validationIdx = Splits.range(data.validation().size());
            if (config.subset() != null) {
                validationIdx = Splits.stratified(validationIdx, data.validation(), classes, config.subset(),
                        Splits.derive(seed, SUBSET, 2))[0];
            }
        } else {
            int[][] split = Splits.stratified(pool, data.trainPool(), classes,
                    (int) Math.round(config.validationFraction() * pool.length), Splits.derive(seed, VALIDATION_SPLIT));
            validationIdx = split[0];
            pool = split[1];
        }
        if (pool.length == 0) {
            throw new DataException(data.name() + ": no training images left after the validation and test splits; "
                    + "use more data or smaller data.validationFraction / data.testFraction / larger data.subset");
        }
        requireReadableImages(data, pool, input);
        DataPipeline pipeline = new DataPipeline(config, input, data, pool, validationSource, validationIdx,
                testSource, testIdx, given);
        log.info(String.format(Locale.ROOT, "%s: %,d train / %,d validation / %,d test images at %s, %d classes, "
                        + "augment %s, %s%s; ready in %.1f s", data.name(), pipeline.trainSize(),
                pipeline.validationSize(), pipeline.testSize(), input, classes, config.augment().toSpec(),
                pipeline.normalization, given != null ? " (given, not fitted)" : "", (System.nanoTime() - start) / 1e9));
        return pipeline;
    }

    /**
     * Refuses training images in which a class has no image that can be read: the model would learn a class it never
     * saw. Reads each class's images in order until one decodes, so a folder of good images costs one read a class.
     */
    private static void requireReadableImages(DatasetLoader.Loaded data, int[] pool, InputShape shape) {
        if (!(data.trainPool() instanceof ImageFolder folder)) {
            return; // idx and CIFAR arrays: every image is there
        }
        float[] pixels = new float[shape.channels() * shape.height() * shape.width()];
        int classes = data.classes().size();
        boolean[] readable = new boolean[classes];
        int[] tried = new int[classes];
        for (int index : pool) {
            int label = folder.label(index);
            if (!readable[label]) {
                tried[label]++;
                readable[label] = folder.read(index, shape, pixels, 0);
            }
        }
        for (int c = 0; c < classes; c++) {
            if (!readable[c] && tried[c] > 0) {
                throw new DataException(data.name() + ": class '" + data.classes().get(c) + "' has no readable "
                        + "training image: none of its " + tried[c] + " files decodes (PNG, JPEG or BMP); replace them, "
                        + "or remove the class folder");
            }
        }
    }

    /** Fits the normaliser on the training split at the model's input shape, without augmentation. */
    private static Normalization fit(DataConfig config, InputShape shape, DatasetLoader.Loaded data, int[] trainIdx,
                                     ExecutorService workers) {
        switch (config.normalization()) {
            case NONE -> {
                return Normalization.none();
            }
            case SCALE -> {
                return Normalization.scale();
            }
            default -> {
            }
        }
        int[] sample = trainIdx;
        if (data.trainPool() instanceof ImageFolder && trainIdx.length > FOLDER_FIT_SAMPLE) {
            sample = Splits.stratified(trainIdx, data.trainPool(), data.classes().size(), FOLDER_FIT_SAMPLE,
                    Splits.derive(config.seed(), FIT_SAMPLE))[0];
        }
        int c = shape.channels();
        int plane = shape.height() * shape.width();
        int parts = config.effectiveWorkers();
        List<Future<double[]>> partial = new ArrayList<>();
        for (int p = 0; p < parts; p++) {
            int from = (int) ((long) sample.length * p / parts);
            int to = (int) ((long) sample.length * (p + 1) / parts);
            int[] chunk = Arrays.copyOfRange(sample, from, to);
            partial.add(workers.submit(() -> sums(data.trainPool(), chunk, shape)));
        }
        double[] total = new double[2 * c + 1];
        try {
            for (Future<double[]> f : partial) {
                double[] s = f.get();
                for (int i = 0; i < total.length; i++) {
                    total[i] += s[i];
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while fitting the normaliser", e);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
        }
        double images = total[2 * c];
        if (images == 0) {
            throw new DataException(data.name() + ": no readable training image to fit the normaliser on");
        }
        double[] mean = new double[c];
        double[] std = new double[c];
        double count = images * plane;
        for (int ch = 0; ch < c; ch++) {
            mean[ch] = total[ch] / count / 255;
            double meanSquare = total[c + ch] / count / (255.0 * 255.0);
            std[ch] = Math.sqrt(Math.max(0, meanSquare - mean[ch] * mean[ch]));
        }
        return Normalization.standardize(mean, std);
    }

    /** Per-channel sums and sums of squares of pixel values, and the image count: {s_0..s_c-1, q_0..q_c-1, n}. */
    private static double[] sums(ImageSource source, int[] indices, InputShape shape) {
        int c = shape.channels();
        int plane = shape.height() * shape.width();
        float[] image = new float[c * plane];
        double[] out = new double[2 * c + 1];
        for (int index : indices) {
            if (!source.read(index, shape, image, 0)) {
                continue;
            }
            for (int ch = 0; ch < c; ch++) {
                double s = 0;
                double q = 0;
                for (int i = ch * plane, end = i + plane; i < end; i++) {
                    double v = image[i];
                    s += v;
                    q += v * v;
                }
                out[ch] += s;
                out[c + ch] += q;
            }
            out[2 * c]++;
        }
        return out;
    }

    /** Training batches: shuffled per epoch and augmented as configured. */
    public ImageBatchIterator train() {
        return train;
    }

    /** Validation batches (held out from the training split, or the source's own), never augmented. */
    public ImageBatchIterator validation() {
        return validation;
    }

    /** Test batches, never augmented. */
    public ImageBatchIterator test() {
        return test;
    }

    /** Class names; label index i is {@code labels().get(i)}. */
    public List<String> labels() {
        return data.classes();
    }

    /** The normaliser fitted on the training split, already applied to every batch; save it with the model. */
    public Normalization normalizer() {
        return normalization;
    }

    /** Distinct unreadable images found so far (left out of batches; see {@link ImageBatchIterator#skippedInEpoch()}). */
    public long skippedImages() {
        return data.unreadable().size();
    }

    /** The unreadable image files found so far. */
    public List<Path> skippedFiles() {
        return data.unreadable().stream().sorted().toList();
    }

    public int trainSize() {
        return train.numExamples();
    }

    public int validationSize() {
        return validation.numExamples();
    }

    public int testSize() {
        return test.numExamples();
    }

    /** The shape batches are served at (the model's input). */
    public InputShape shape() {
        return shape;
    }

    public DataConfig config() {
        return config;
    }

    /** Stops the worker threads; the iterators cannot be used afterwards. */
    @Override
    public void close() {
        workers.shutdownNow();
    }
}
