package org.zoo4j.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.nd4j.linalg.dataset.DataSet;
import org.zoo4j.base.InputShape;

/**
 * Images per second of the data pipeline alone (reading, augmenting, normalising, building batches; no model), with
 * and without augmentation, for Fashion-MNIST at 28x28 and for 32x32 RGB images (CIFAR-10 when its files are at hand,
 * else random in-memory 32x32 RGB images, which take the same path).
 */
public final class DataBenchmark {
    private DataBenchmark() {
    }

    /** One measured case. */
    public record Result(String dataset, InputShape shape, String augment, int workers, long images, double seconds) {
        public double imagesPerSecond() {
            return images / seconds;
        }
    }

    /** All cases, and how long reading and checking the whole of Fashion-MNIST took. */
    public record Report(List<Result> results, double fashionLoadSeconds) {
    }

    /** Runs every case: {@code images} images timed per case after {@code warmup} untimed ones. */
    public static Report run(int workers, int batchSize, int images, int warmup) {
        List<Result> results = new ArrayList<>();
        DatasetManifest manifest = DatasetManifest.load();
        long loadStart = System.nanoTime();
        DatasetLoader.Loaded fashion = DatasetLoader.load(DataConfig.of("fashion-mnist"), manifest, System.err);
        double loadSeconds = (System.nanoTime() - loadStart) / 1e9;
        ImageSource rgbSource;
        String rgbName;
        DatasetLoader.Loaded cifar = null;
        try {
            cifar = DatasetLoader.load(DataConfig.of("cifar10").withDownload(false), manifest, System.err);
        } catch (DataException notHere) {
            // measured on synthetic images instead, named as such
        }
        if (cifar != null) {
            rgbSource = cifar.trainPool();
            rgbName = "cifar10";
        } else {
            rgbSource = syntheticRgb(50_000, 10);
            rgbName = "random 32x32 RGB";
        }
        for (AugmentConfig augment : List.of(AugmentConfig.NONE, AugmentConfig.full())) {
            results.add(measure("fashion-mnist", fashion.trainPool(), InputShape.of(1, 28, 28), augment, workers,
                    batchSize, images, warmup));
            results.add(measure(rgbName, rgbSource, InputShape.of(3, 32, 32), augment, workers, batchSize, images,
                    warmup));
        }
        return new Report(results, loadSeconds);
    }

    private static Result measure(String name, ImageSource source, InputShape shape, AugmentConfig augment,
                                  int workers, int batchSize, int images, int warmup) {
        ExecutorService pool = Executors.newFixedThreadPool(workers, r -> {
            Thread t = new Thread(r, "zoo4j-bench");
            t.setDaemon(true);
            return t;
        });
        try {
            Normalization norm = Normalization.standardize(new double[shape.channels()], fill(shape.channels()));
            ImageBatchIterator it = new ImageBatchIterator("train", source, Splits.range(source.size()), shape,
                    batchSize, labels(source), augment, true, norm, 42, pool, 8);
            consume(it, warmup);
            long start = System.nanoTime();
            long n = consume(it, images);
            return new Result(name, shape, augment.isNone() ? "none" : augment.toSpec(), workers, n,
                    (System.nanoTime() - start) / 1e9);
        } finally {
            pool.shutdownNow();
        }
    }

    /** Takes batches as zoo4j's training loop does: each given back (or, if not taken back, freed) once read. */
    private static long consume(ImageBatchIterator it, long images) {
        long n = 0;
        while (n < images) {
            if (!it.hasNext()) {
                it.reset();
            }
            DataSet batch = it.next();
            n += batch.numExamples();
            if (!it.recycle(batch)) {
                batch.getFeatures().close();
                batch.getLabels().close();
            }
        }
        return n;
    }

    private static List<String> labels(ImageSource source) {
        int max = 0;
        for (int i = 0; i < source.size(); i++) {
            max = Math.max(max, source.label(i));
        }
        List<String> l = new ArrayList<>();
        for (int i = 0; i <= max; i++) {
            l.add(Integer.toString(i));
        }
        return l;
    }

    private static double[] fill(int n) {
        double[] a = new double[n];
        Arrays.fill(a, 1);
        return a;
    }

    static ImageArray syntheticRgb(int count, int classes) {
        SplittableRandom rng = new SplittableRandom(7);
        byte[] pixels = new byte[count * CifarBinary.IMAGE_BYTES];
        for (int i = 0; i < pixels.length; i++) {
            pixels[i] = (byte) rng.nextInt(256);
        }
        int[] labels = new int[count];
        for (int i = 0; i < count; i++) {
            labels[i] = i % classes;
        }
        return new ImageArray("random RGB", CifarBinary.SHAPE, pixels, labels);
    }

    /** The report as a table. */
    public static String format(Report report) {
        List<Result> results = report.results();
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "fashion-mnist: 70,000 images read and checksum-verified in %.2f s%n",
                report.fashionLoadSeconds()));
        s.append(String.format(Locale.ROOT, "%-18s %-8s %-52s %7s %12s%n", "dataset", "input", "augmentation",
                "workers", "images/s"));
        for (Result r : results) {
            s.append(String.format(Locale.ROOT, "%-18s %-8s %-52s %7d %,12.0f%n", r.dataset(), r.shape(), r.augment(),
                    r.workers(), r.imagesPerSecond()));
        }
        return s.toString();
    }
}
