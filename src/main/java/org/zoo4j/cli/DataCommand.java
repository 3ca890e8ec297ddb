package org.zoo4j.cli;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.zoo4j.base.InputShape;
import org.zoo4j.data.AugmentConfig;
import org.zoo4j.data.DataBenchmark;
import org.zoo4j.data.DataConfig;
import org.zoo4j.data.DataPipeline;
import org.zoo4j.data.DataPreview;
import org.zoo4j.data.DatasetManifest;
import org.zoo4j.data.NormalizationMode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code zoo4j data ...}: look at, fetch and measure the data pipeline. */
@Command(name = "data", mixinStandardHelpOptions = true,
        description = "Datasets: preview augmentation, fetch files, measure pipeline throughput.",
        subcommands = {DataCommand.Preview.class, DataCommand.Fetch.class, DataCommand.Bench.class})
public final class DataCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** Options naming a dataset. */
    static final class DatasetOptions {
        @Option(names = "--dataset", defaultValue = "fashion-mnist",
                description = "fashion-mnist, mnist, cifar10 or folder:/path (default: ${DEFAULT-VALUE})")
        String dataset;

        @Option(names = "--path", description = "folder holding the dataset's files (instead of cache/download)")
        String path;

        @Option(names = "--offline", description = "never download; fail with the ways to get missing files")
        boolean offline;

        DataConfig config() {
            return DataConfig.of(dataset).withPath(path).withDownload(!offline);
        }

        /** The dataset's own shape for known datasets; 3,64,64 for image folders. */
        InputShape nativeShape() {
            if (dataset.startsWith("folder:")) {
                return InputShape.of(3, 64, 64);
            }
            return DatasetManifest.load().get(dataset).shape();
        }
    }

    @Command(name = "preview", mixinStandardHelpOptions = true,
            description = "Write a PNG grid: each row a training image, original on the left, augmented versions right.")
    static final class Preview implements Callable<Integer> {
        @picocli.CommandLine.Mixin
        DatasetOptions data = new DatasetOptions();

        @Option(names = "--augment", defaultValue = "rotate=15,translate=0.1,scale=0.9:1.1,flip=0.5,crop=4",
                description = "augmentation, e.g. \"rotate=15,translate=0.1,scale=0.9:1.1,flip=0.5,crop=4\" "
                        + "(@p after a value sets its probability)")
        String augment;

        @Option(names = "--out", defaultValue = "augment-preview.png", description = "PNG to write (default: ${DEFAULT-VALUE})")
        Path out;

        @Option(names = "--input", description = "shape C,H,W to show images at (default: the dataset's own)")
        String input;

        @Option(names = "--rows", defaultValue = "10", description = "images (rows), cycling through classes")
        int rows;

        @Option(names = "--variants", defaultValue = "6", description = "augmented versions per image")
        int variants;

        @Option(names = "--zoom", defaultValue = "3", description = "enlargement of each tile")
        int zoom;

        @Option(names = "--seed", defaultValue = "42")
        long seed;

        @Override
        public Integer call() throws Exception {
            DataConfig config = data.config().withAugment(AugmentConfig.parse(augment)).withSeed(seed);
            InputShape shape = input == null ? data.nativeShape() : InputShape.parse(input);
            DataPreview.Summary s = DataPreview.write(config, shape, rows, variants, zoom, out);
            System.out.printf(Locale.ROOT, "wrote %s (%dx%d): %d rows, original | %d augmented (%s); rows: %s%n", out,
                    s.width(), s.height(), s.rows(), s.variants(), config.augment().toSpec(),
                    String.join(", ", s.rowLabels()));
            return 0;
        }
    }

    @Command(name = "fetch", mixinStandardHelpOptions = true,
            description = "Find or download a dataset's files, verify them, and print the split sizes.")
    static final class Fetch implements Callable<Integer> {
        @picocli.CommandLine.Mixin
        DatasetOptions data = new DatasetOptions();

        @Override
        public Integer call() {
            try (DataPipeline p = DataPipeline.open(data.config().withNormalization(NormalizationMode.NONE),
                    data.nativeShape())) {
                System.out.printf(Locale.ROOT, "%s: %,d train / %,d validation / %,d test images, classes %s%n",
                        data.dataset, p.trainSize(), p.validationSize(), p.testSize(), p.labels());
                if (p.skippedImages() > 0) {
                    System.out.println("unreadable images: " + p.skippedFiles());
                }
            }
            return 0;
        }
    }

    @Command(name = "bench", mixinStandardHelpOptions = true,
            description = "Images/s of the data pipeline alone, with and without full augmentation, for Fashion-MNIST "
                    + "28x28 and 32x32 RGB (CIFAR-10 if present locally, else random images).")
    static final class Bench implements Callable<Integer> {
        @Option(names = "--images", defaultValue = "60000", description = "images timed per case")
        int images;

        @Option(names = "--warmup", defaultValue = "20000", description = "untimed images first (JIT warm-up)")
        int warmup;

        @Option(names = "--workers", defaultValue = "0", description = "worker threads; 0 = automatic")
        int workers;

        @Option(names = "--batch", defaultValue = "64")
        int batch;

        @Override
        public Integer call() {
            int w = workers > 0 ? workers : DataConfig.of("fashion-mnist").effectiveWorkers();
            DataBenchmark.Report report = DataBenchmark.run(w, batch, images, warmup);
            System.out.print(DataBenchmark.format(report));
            System.out.printf(Locale.ROOT, "target: full augmentation >= 7,500 images/s (3x LeNet-5's ~2,500 images/s "
                    + "training rate); %d CPU cores%n", Runtime.getRuntime().availableProcessors());
            return 0;
        }
    }
}
