package org.zoo4j.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import org.zoo4j.Zoo;
import org.zoo4j.base.Checksums;
import org.zoo4j.base.ConfigException;
import org.zoo4j.data.DataConfig;
import org.zoo4j.modelfile.ModelFile;
import org.zoo4j.recipe.FinetuneSettings;
import org.zoo4j.recipe.TrainingRecipe;
import org.zoo4j.training.Trainer;
import org.zoo4j.transfer.PretrainedWeights;
import org.zoo4j.transfer.WeightsCache;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code zoo4j finetune --from MODEL --dataset DATA [options]}: trains a new run that starts from a trained model. The
 * run is an ordinary training run (recipe.yaml with a {@code finetune:} section, metrics, best/last, plots), so
 * {@code ./zoo4j train --resume RUN} continues it.
 */
@Command(name = "finetune", mixinStandardHelpOptions = true,
        description = {"Fine-tune a trained model on new data: the head is replaced for the new classes, layers can "
                + "be frozen, the head can have its own learning rate, and the input may change channels (1 <-> 3) "
                + "or, for global-pooling models, size.",
                "The new recipe starts from the trained model's recipe (model, settings, epochs, schedule, batch "
                        + "size) with the new dataset; --set changes any of it.",
                "Examples:",
                "  ./zoo4j finetune --from runs/lenet5-fmnist/best.zip --dataset fashion-mnist "
                        + "--set data.classes=5,6,7,8,9 --set data.labelFraction=0.1 --feature-extractor",
                "  ./zoo4j finetune --from model.zip --dataset folder:/data/flowers --input 3,64,64 "
                        + "--freeze-until layer2.2.bn2 --head-lr 0.01",
                "  ./zoo4j train --resume runs/lenet5-fashion-mnist-20260101-120000"},
        footer = {"Exit codes: 0 done, 2 bad input, 3 loss became NaN/infinite, 130 interrupted (checkpoint written)."})
final class FinetuneCommand implements Callable<Integer> {
    @Option(names = "--from", required = true, paramLabel = "MODEL",
            description = "trained model: a zoo4j model .zip, a run directory (its best.zip), or the name of one that "
                    + "ships with the zoo (zoo4j weights list, format zoo4j)")
    String from;

    @Option(names = "--refit-normalization", description = "fit a new normaliser on the new data instead of keeping "
            + "the trained model's")
    boolean refitNormalization;

    @Option(names = "--dataset", description = "fashion-mnist, mnist, cifar10 or folder:/path (default: the trained "
            + "model's dataset)")
    String dataset;

    @picocli.CommandLine.Mixin
    RecipeOptions options = new RecipeOptions();

    @Option(names = "--freeze-until", paramLabel = "LAYER", description = "freeze this layer and every layer before "
            + "it (names as ./zoo4j describe MODEL lists them)")
    String freezeUntil;

    @Option(names = "--feature-extractor", description = "freeze every layer but the new head")
    boolean featureExtractor;

    @Option(names = "--head-lr", paramLabel = "X", description = "learning rate of the new head (default: the "
            + "updater's)")
    Double headLearningRate;

    @Option(names = "--input", paramLabel = "C,H,W", description = "input shape of the new network (default: the "
            + "trained model's)")
    String input;

    @Mixin
    TrustOptions trustOptions = new TrustOptions();

    @Option(names = "--out", description = "run directory (default runs/MODEL-DATASET-TIME)")
    Path out;

    @Override
    public Integer call() throws Exception {
        if (featureExtractor && freezeUntil != null) {
            throw new ConfigException("give either --freeze-until or --feature-extractor, not both");
        }
        Path model = PretrainedWeights.resolve(from, new WeightsCache(WeightsCache.defaultRoot(), System.err));
        ModelFile.Loaded trained = Zoo.load(model, trustOptions.trust());
        // A shipped model is recorded by its name (resolved, it was no path), so the recipe runs again elsewhere.
        String source = Files.exists(Path.of(from)) ? model.toString() : from;
        TrainingRecipe recipe = baseRecipe(trained, model);
        DataConfig data = recipe.data();
        DataConfig fresh = DataConfig.of(dataset == null ? data.dataset() : dataset);
        // Keep how the trained model was fed, not which images it saw.
        recipe = recipe.withData(fresh.withBatchSize(data.batchSize()).withNormalization(data.normalization())
                .withAugment(data.augment()).withSeed(data.seed()).withWorkers(data.workers()))
                .withFinetune(new FinetuneSettings(source, freezeUntil, featureExtractor, headLearningRate,
                        // The file fine-tuned from, pinned: a resumed run refuses another under its name.
                        Checksums.sha256(model), trustOptions.allowUnverified, refitNormalization));
        Map<String, String> all = new LinkedHashMap<>();
        if (input != null) {
            all.put("overrides.input", input);
        }
        all.putAll(options.settings());
        recipe = recipe.with(all);
        return TrainCommand.train(recipe, out == null ? Trainer.defaultRunDir(recipe) : out);
    }

    /** The trained model's recipe without its class count (the new data sets it) and without its own fine-tuning. */
    private static TrainingRecipe baseRecipe(ModelFile.Loaded trained, Path model) {
        TrainingRecipe recipe = trained.recipe();
        if (recipe == null) {
            throw new ConfigException(model + " has no recipe entry (" + ModelFile.RECIPE + "); fine-tune it "
                    + "with ./zoo4j train RECIPE and a finetune: section naming the model and its settings");
        }
        Map<String, Object> overrides = new LinkedHashMap<>(recipe.overrides());
        overrides.remove("numClasses");
        overrides.put("input", trained.preprocessing().input().toString());
        return recipe.withModel(recipe.model(), overrides).withFinetune(null);
    }
}
