package org.zoo4j.cli;

import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Option;

/** The options that change a training recipe, shared by {@code train} and {@code finetune}; see {@link #settings}. */
final class RecipeOptions {
    @Option(names = "--data-path", description = "folder holding the dataset's files")
    String dataPath;

    @Option(names = "--epochs", description = "number of epochs")
    Integer epochs;

    @Option(names = "--batch-size", description = "images per batch")
    Integer batchSize;

    @Option(names = "--lr", description = "base learning rate of the model's updater")
    Double learningRate;

    @Option(names = "--subset", description = "at most this many images per split (quick runs)")
    Integer subset;

    @Option(names = "--offline", description = "never download the dataset")
    boolean offline;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "any recipe setting by dotted name, e.g. "
            + "data.augment=flip=0.5,crop=4, overrides.updater.name=nesterov, schedule.type=cosine, "
            + "data.classes=5,6,7,8,9")
    Map<String, String> settings = new LinkedHashMap<>();

    /** These options as the dotted settings {@code TrainingRecipe.with} takes; {@code --set} entries last, so they win. */
    Map<String, String> settings() {
        Map<String, String> all = new LinkedHashMap<>();
        if (dataPath != null) {
            all.put("data.path", dataPath);
        }
        if (epochs != null) {
            all.put("epochs", epochs.toString());
        }
        if (batchSize != null) {
            all.put("data.batchSize", batchSize.toString());
        }
        if (learningRate != null) {
            all.put("overrides.updater.learningRate", learningRate.toString());
        }
        if (subset != null) {
            all.put("data.subset", subset.toString());
        }
        if (offline) {
            all.put("data.download", "false");
        }
        all.putAll(settings);
        return all;
    }
}
