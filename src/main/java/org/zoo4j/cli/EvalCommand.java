package org.zoo4j.cli;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.zoo4j.base.Choices;
import org.zoo4j.base.ConfigException;
import org.zoo4j.base.Table;
import org.zoo4j.data.AugmentConfig;
import org.zoo4j.data.DataConfig;
import org.zoo4j.data.DataPipeline;
import org.zoo4j.data.NormalizationMode;
import org.zoo4j.modelfile.ModelFile;
import org.zoo4j.runtime.InferenceCopy;
import org.zoo4j.training.EvaluationReport;
import org.zoo4j.training.Plots;
import org.zoo4j.transfer.PretrainedWeights;
import org.zoo4j.transfer.WeightsCache;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code zoo4j eval RUN_OR_MODEL}: accuracy, top-5, per-class precision/recall and the confusion matrix. */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Evaluate a trained model (a run directory's best model, or a model .zip) on a test split.")
final class EvalCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "RUN_OR_MODEL", description = "run directory, model file, or the name of a "
            + "trained model that ships with the zoo (zoo4j weights list)")
    String model;

    @Mixin
    TrustOptions trustOptions = new TrustOptions();

    @Option(names = "--dataset", description = "dataset to test on (default: the one the model was trained on)")
    String dataset;

    @Option(names = "--data-path", description = "folder holding the dataset's files")
    String dataPath;

    /** The split a model is evaluated on. */
    enum Split { TEST, VALIDATION }

    @Option(names = "--split", defaultValue = "test", description = "test or validation (default: ${DEFAULT-VALUE})")
    Split split;

    @Option(names = "--subset", description = "at most this many images")
    Integer subset;

    @Option(names = "--confusion-png", description = "where to draw the confusion matrix (default: confusion-eval.png "
            + "beside the model)")
    Path png;

    @Override
    public Integer call() throws Exception {
        Path file = PretrainedWeights.resolve(model, new WeightsCache(WeightsCache.defaultRoot(), System.err));
        ModelFile.Loaded loaded = ModelFile.load(file, false, trustOptions.trust());
        DataConfig data = loaded.recipe() != null ? loaded.recipe().data() : DataConfig.of("fashion-mnist");
        if (dataset != null) {
            data = DataConfig.of(dataset).withBatchSize(data.batchSize()).withSeed(data.seed());
        }
        if (dataPath != null) {
            data = data.withPath(dataPath);
        }
        if (subset != null) {
            data = data.withSubset(subset);
        }
        // Raw pixels from the pipeline, normalised with the model's own normaliser (fitted when it was trained).
        data = data.withNormalization(NormalizationMode.NONE).withAugment(AugmentConfig.NONE);
        try (DataPipeline pipeline = DataPipeline.open(data, loaded.preprocessing().input())) {
            if (pipeline.labels().size() != loaded.labels().size()) {
                throw new ConfigException(data.dataset() + " has " + pipeline.labels().size()
                        + " classes but the model was trained on " + loaded.labels().size() + " " + loaded.labels());
            }
            ComputationGraph net = InferenceCopy.forInference(loaded.net());
            EvaluationReport e;
            try {
                e = EvaluationReport.of(net, split == Split.TEST ? pipeline.test() : pipeline.validation(),
                        loaded.labels(), loaded.normalization());
            } finally {
                if (net != loaded.net()) {
                    net.close();
                }
            }
            print(e, file, data.dataset());
            Path out = png != null ? png : file.toAbsolutePath().resolveSibling("confusion-eval.png");
            Plots.confusion(out, e, "Confusion matrix: " + file.getFileName() + " on " + data.dataset() + " "
                    + Choices.name(split));
            System.out.println("confusion matrix drawn in " + out);
        }
        return 0;
    }

    static void print(EvaluationReport e, Path file, String dataset) {
        System.out.printf(Locale.ROOT, "%s on %s: %,d images, accuracy %.2f%%%s, loss %.4f%n", file, dataset, e.count(),
                100 * e.accuracy(), Double.isNaN(e.top5()) ? "" : String.format(Locale.ROOT, ", top-5 %.2f%%",
                        100 * e.top5()), e.loss());
        Table perClass = new Table("class", "precision", "recall", "images").right(1, 2, 3);
        for (int c = 0; c < e.labels().size(); c++) {
            long n = 0;
            for (long v : e.confusion()[c]) {
                n += v;
            }
            perClass.row(e.labels().get(c), percent(e.precision(c)), percent(e.recall(c)), n);
        }
        perClass.print(System.out);
        System.out.println("confusion matrix (rows: actual, columns: predicted)");
        String[] header = new String[e.labels().size() + 1];
        header[0] = "";
        for (int c = 0; c < e.labels().size(); c++) {
            header[c + 1] = String.valueOf(c);
        }
        Table confusion = new Table(header);
        for (int r = 0; r < e.labels().size(); r++) {
            Object[] row = new Object[header.length];
            row[0] = r + " " + e.labels().get(r);
            for (int c = 0; c < e.labels().size(); c++) {
                row[c + 1] = e.confusion()[r][c];
            }
            confusion.row(row);
        }
        confusion.print(System.out);
    }

    private static String percent(double v) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.1f%%", 100 * v);
    }
}
