package org.zoo4j.recipe;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonProcessingException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.zoo4j.base.ConfigException;
import org.zoo4j.base.Configs;
import org.zoo4j.data.DataConfig;
import org.zoo4j.zoo.ArchitectureConfig;
import org.zoo4j.zoo.Dl4jNetworkFile;
import org.zoo4j.zoo.ModelRegistry;

/**
 * Everything a training run needs, as written in {@code training/*.yaml}: a model, the data, and the trainer settings.
 * The resolved recipe is saved in each run directory and can be run again as it is.
 *
 * @param model            a registered model name, e.g. lenet5 or resnet20 (default lenet5), or a DL4J network
 *                         configuration file {@code *.json} relative to the recipe file (see {@link Dl4jNetworkFile})
 * @param overrides        settings of the model's preset config, by (dotted) name: input, updater, ...; numClasses
 *                         defaults to the dataset's class count
 * @param data             dataset, splits, batch size, augmentation, normalisation (see {@link DataConfig})
 * @param epochs           passes over the training split (default 10)
 * @param schedule         learning-rate schedule over epochs (default constant)
 * @param weightDecay      L2 weight decay coefficient applied to weights, not biases, by the updater; 0 = off
 * @param clipGradientNorm when > 0, each layer's gradient is rescaled to at most this L2 norm; 0 = off
 * @param earlyStopping    stop when the validation metric has not improved for this many epochs; 0 = off
 * @param monitor          validation metric that picks the best model and drives early stopping (default accuracy)
 * @param device           the backend this run expects (default cpu)
 * @param workers          replicas trained data-parallel (see {@link LoopSettings#workers()}; default 1); read from
 *                         {@code gpus} too, its name before CPU replicas were allowed
 * @param finetune         when set, training starts from a trained model (see {@link FinetuneSettings}); null = fresh weights
 * @param statsEvery       record per-step statistics for the dashboard every this many training iterations into the
 *                         run's {@code stats.jsonl} (loss, learning rate, images/s, memory, each layer's parameter and
 *                         update magnitudes; see {@code org.zoo4j.training.StatsRecorder}); 0 = off, the default.
 *                         {@code ./zoo4j train --ui} sets 10 where it is 0; watch a run with {@code ./zoo4j ui RUN}
 * @param spark            when set with a master, the run trains data-parallel on Spark (see {@link SparkSettings}; needs
 *                         the Spark build); null = in this process
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record TrainingRecipe(String model, Map<String, Object> overrides, DataConfig data, int epochs,
                             LrSchedule schedule, double weightDecay, double clipGradientNorm, int earlyStopping,
                             Monitor monitor, Device device, int workers, FinetuneSettings finetune,
                             @JsonInclude(JsonInclude.Include.NON_DEFAULT) int statsEvery, SparkSettings spark) {
    /** The default recipe's model: what {@code ./zoo4j train} trains without arguments. */
    public static final String DEFAULT_MODEL = "lenet5";

    public TrainingRecipe {
        model = model == null || model.isBlank() ? DEFAULT_MODEL : model.trim();
        overrides = overrides == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(overrides));
        data = data == null ? DataConfig.of("fashion-mnist") : data;
        schedule = schedule == null ? LrSchedule.CONSTANT : schedule;
        monitor = monitor == null ? Monitor.ACCURACY : monitor;
        device = device == null ? Device.CPU : device;
        if (weightDecay < 0) {
            throw new ConfigException("weightDecay: must be >= 0, got " + weightDecay);
        }
        if (clipGradientNorm < 0) {
            throw new ConfigException("clipGradientNorm: must be >= 0 (0 = off), got " + clipGradientNorm);
        }
        new LoopSettings(epochs, schedule, monitor, earlyStopping, workers); // checks those settings
        if (statsEvery < 0) {
            throw new ConfigException("statsEvery: iterations between per-step statistics, >= 0 (0 = off), got "
                    + statsEvery);
        }
        if (spark != null && spark.active() && workers > 1) {
            throw new ConfigException("workers: " + workers + " replicas in this process and spark.master: "
                    + spark.master() + " exclude each other; set workers=1 (Spark's workers: spark.workers)");
        }
    }

    /** A recipe that records no per-step statistics (statsEvery 0) and trains in this process (no spark section). */
    public TrainingRecipe(String model, Map<String, Object> overrides, DataConfig data, int epochs, LrSchedule schedule,
                          double weightDecay, double clipGradientNorm, int earlyStopping, Monitor monitor,
                          Device device, int workers, FinetuneSettings finetune) {
        this(model, overrides, data, epochs, schedule, weightDecay, clipGradientNorm, earlyStopping, monitor, device,
                workers, finetune, 0, null);
    }

    /** The YAML/JSON form: every field may be left out and takes its default. */
    @JsonCreator
    static TrainingRecipe fromMap(@JsonProperty("model") String model,
                                  @JsonProperty("overrides") Map<String, Object> overrides,
                                  @JsonProperty("data") DataConfig data, @JsonProperty("epochs") Integer epochs,
                                  @JsonProperty("schedule") LrSchedule schedule,
                                  @JsonProperty("weightDecay") Double weightDecay,
                                  @JsonProperty("clipGradientNorm") Double clipGradientNorm,
                                  @JsonProperty("earlyStopping") Integer earlyStopping,
                                  @JsonProperty("monitor") Monitor monitor, @JsonProperty("device") Device device,
                                  @JsonProperty("workers") Integer workers, @JsonProperty("gpus") Integer gpus,
                                  @JsonProperty("finetune") FinetuneSettings finetune,
                                  @JsonProperty("statsEvery") Integer statsEvery,
                                  @JsonProperty("spark") SparkSettings spark) {
        if (workers != null && gpus != null && !workers.equals(gpus)) {
            throw new ConfigException("workers: " + workers + " and gpus: " + gpus + " disagree; gpus is the old name "
                    + "of workers, give only workers");
        }
        return new TrainingRecipe(model, overrides, data, epochs == null ? 10 : epochs, schedule,
                weightDecay == null ? 0 : weightDecay, clipGradientNorm == null ? 0 : clipGradientNorm,
                earlyStopping == null ? 0 : earlyStopping, monitor, device,
                workers != null ? workers : gpus != null ? gpus : 1, finetune, statsEvery == null ? 0 : statsEvery,
                spark);
    }

    /** The settings of the epoch loop. */
    public LoopSettings loop() {
        return new LoopSettings(epochs, schedule, monitor, earlyStopping, workers);
    }

    /**
     * What {@code ./zoo4j train} runs without arguments: LeNet-5 on Fashion-MNIST, the same as
     * {@code training/lenet5-fashion-mnist.yaml} (a test keeps the two equal).
     */
    public static TrainingRecipe defaults() {
        Map<String, Object> updater = new LinkedHashMap<>();
        updater.put("name", "adam");
        updater.put("learningRate", 0.002);
        return fromMap(DEFAULT_MODEL, Map.of("updater", updater), DataConfig.of("fashion-mnist").withBatchSize(128), 12,
                LrSchedule.fromMap(LrSchedule.Type.COSINE, null, null, null, null, 0.05), null, null, null, null, null, null, null,
                null, null, null);
    }

    public static TrainingRecipe read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new ConfigException(file + ": no such file (a training recipe, e.g. training/lenet5-fashion-mnist.yaml)");
        }
        try {
            TrainingRecipe recipe = Configs.fromYaml(Files.readString(file), TrainingRecipe.class);
            if (Dl4jNetworkFile.isNetworkFile(recipe.model) && !Path.of(recipe.model).isAbsolute()) {
                Path network = file.toAbsolutePath().getParent().resolve(recipe.model).normalize();
                recipe = recipe.withModel(network.toString(), recipe.overrides);
            }
            recipe.modelConfig();
            return recipe;
        } catch (ConfigException e) {
            throw new ConfigException(file + ": " + e.getMessage(), e); // which file, when several are in play
        }
    }

    public String toYaml() {
        return Configs.toYaml(this);
    }

    /**
     * A copy with command-line settings applied ({@code epochs=3}, {@code data.batchSize=128},
     * {@code schedule.type=cosine}). Keys under {@code overrides.} set model settings ({@code
     * overrides.updater.learningRate=0.05}) and are checked against the model's config. Unknown keys are errors.
     */
    public TrainingRecipe with(Map<String, String> settings) {
        Map<String, Object> modelSettings = new LinkedHashMap<>(overrides);
        Map<String, String> own = new LinkedHashMap<>();
        settings.forEach((key, value) -> {
            if (key.startsWith("overrides.")) {
                putSetting(modelSettings, key.substring("overrides.".length()), scalar(value));
            } else {
                own.put(key, value);
            }
        });
        // Settings that are null by default are left out of the JSON tree Configs.override edits; set them directly.
        TrainingRecipe base = this;
        String subset = own.remove("data.subset");
        if (subset != null) {
            base = base.withData(base.data.withSubset(parseSubset(subset)));
        }
        String classes = own.remove("data.classes");
        if (classes != null) {
            base = base.withData(base.data.withClasses(parseClasses(classes)));
        }
        String fraction = own.remove("data.labelFraction");
        if (fraction != null) {
            base = base.withData(base.data.withLabelFraction(parseFraction(fraction)));
        }
        String path = own.remove("data.path");
        if (path != null) {
            base = base.withData(base.data.withPath(path));
        }
        // Spark settings are keys with dots themselves: spark.conf.spark.executor.instances=4
        for (String key : List.copyOf(own.keySet())) {
            if (key.startsWith("spark.conf.")) {
                SparkSettings current = base.spark != null ? base.spark : SparkSettings.on(null);
                base = base.withSpark(current.withConf(key.substring("spark.conf.".length()), own.remove(key)));
            }
        }
        TrainingRecipe updated = Configs.override(base, own);
        if (!modelSettings.equals(overrides)) {
            updated = new TrainingRecipe(updated.model, modelSettings, updated.data, updated.epochs, updated.schedule,
                    updated.weightDecay, updated.clipGradientNorm, updated.earlyStopping, updated.monitor,
                    updated.device, updated.workers, updated.finetune, updated.statsEvery, updated.spark);
        }
        updated.modelConfig();
        return updated;
    }

    /**
     * Puts {@code a.b=v} inside {@code a} when the overrides hold {@code a} as a map already, so that a saved recipe
     * (a sweep's best-recipe.yaml, say) reads as one would write it, with no {@code a.b} key beside {@code a}.
     */
    private static void putSetting(Map<String, Object> settings, String key, Object value) {
        int dot = key.indexOf('.');
        if (dot > 0 && settings.get(key.substring(0, dot)) instanceof Map<?, ?> nested) {
            Map<String, Object> copy = new LinkedHashMap<>();
            nested.forEach((k, v) -> copy.put(String.valueOf(k), v));
            putSetting(copy, key.substring(dot + 1), value);
            settings.put(key.substring(0, dot), copy);
        } else {
            settings.put(key, value);
        }
    }

    /** A command-line value as the YAML scalar it reads as (0.01 a number, true a boolean), so it saves as it reads. */
    private static Object scalar(String value) {
        try {
            Object parsed = Configs.yaml().readValue(value, Object.class);
            return parsed instanceof Number || parsed instanceof Boolean ? parsed : value;
        } catch (JsonProcessingException e) {
            return value;
        }
    }

    private static Integer parseSubset(String text) {
        if (text.isBlank() || text.equalsIgnoreCase("null") || text.equalsIgnoreCase("all")) {
            return null;
        }
        try {
            return Integer.valueOf(text.trim());
        } catch (NumberFormatException e) {
            throw new ConfigException("data.subset: a number of images or 'all', got '" + text + "'");
        }
    }

    private static List<Integer> parseClasses(String text) {
        if (text.isBlank() || text.equalsIgnoreCase("null") || text.equalsIgnoreCase("all")) {
            return null;
        }
        try {
            return Arrays.stream(text.replaceAll("[\\[\\]\\s]", "").split(",")).map(Integer::valueOf).toList();
        } catch (NumberFormatException e) {
            throw new ConfigException("data.classes: class indices such as 5,6,7,8,9 or 'all', got '" + text + "'");
        }
    }

    private static Double parseFraction(String text) {
        if (text.isBlank() || text.equalsIgnoreCase("null") || text.equalsIgnoreCase("all")) {
            return null;
        }
        try {
            return Double.valueOf(text.trim());
        } catch (NumberFormatException e) {
            throw new ConfigException("data.labelFraction: a share such as 0.01 or 'all', got '" + text + "'");
        }
    }

    /** The model's config with the overrides applied; checks the model name and override keys. */
    public ArchitectureConfig modelConfig() {
        if (Dl4jNetworkFile.isNetworkFile(model)) {
            return Dl4jNetworkFile.describe(Path.of(model), overrides);
        }
        if (!ModelRegistry.builtIn().names().contains(model)) {
            throw new ConfigException("model: unknown model '" + model + "'; see ./zoo4j list for the "
                    + "registered ones");
        }
        try {
            return ModelRegistry.builtIn().get(model).config(overrides);
        } catch (IllegalArgumentException e) {
            throw new ConfigException("overrides: " + e.getMessage(), e);
        }
    }

    /** The model's config for {@code numClasses} classes, unless the overrides set numClasses themselves. */
    public Map<String, Object> modelOverrides(int numClasses) {
        Map<String, Object> all = new LinkedHashMap<>(overrides);
        all.putIfAbsent("numClasses", numClasses);
        return all;
    }

    public TrainingRecipe withEpochs(int e) {
        return new TrainingRecipe(model, overrides, data, e, schedule, weightDecay, clipGradientNorm, earlyStopping,
                monitor, device, workers, finetune, statsEvery, spark);
    }

    public TrainingRecipe withData(DataConfig d) {
        return new TrainingRecipe(model, overrides, d, epochs, schedule, weightDecay, clipGradientNorm, earlyStopping,
                monitor, device, workers, finetune, statsEvery, spark);
    }

    public TrainingRecipe withFinetune(FinetuneSettings f) {
        return new TrainingRecipe(model, overrides, data, epochs, schedule, weightDecay, clipGradientNorm, earlyStopping,
                monitor, device, workers, f, statsEvery, spark);
    }

    public TrainingRecipe withModel(String m, Map<String, Object> o) {
        return new TrainingRecipe(m, o, data, epochs, schedule, weightDecay, clipGradientNorm, earlyStopping,
                monitor, device, workers, finetune, statsEvery, spark);
    }

    /** A copy with these Spark settings (null: trains in this process). */
    public TrainingRecipe withSpark(SparkSettings s) {
        return new TrainingRecipe(model, overrides, data, epochs, schedule, weightDecay, clipGradientNorm, earlyStopping,
                monitor, device, workers, finetune, statsEvery, s);
    }

    /** Whether this recipe trains on Spark: a {@code spark:} section with a master. */
    public boolean onSpark() {
        return spark != null && spark.active();
    }
}
