package org.zoo4j.modelfile;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.zoo4j.base.AtomicFiles;
import org.zoo4j.base.ConfigException;
import org.zoo4j.base.Configs;
import org.zoo4j.base.FaultInjection;
import org.zoo4j.base.InputShape;
import org.zoo4j.base.ZipEntries;
import org.zoo4j.data.Normalization;
import org.zoo4j.recipe.FinetuneSettings;
import org.zoo4j.recipe.LoopSettings;
import org.zoo4j.recipe.TrainingRecipe;
import org.zoo4j.runtime.LayerHelpers;
import org.zoo4j.zoo.Dl4jNetworkFile;
import org.zoo4j.zoo.ModelRegistry;

/**
 * A zoo4j model file: DL4J's ModelSerializer zip (configuration, parameters, optionally updater state; written by
 * {@link Dl4jZip} with the same entries, the arrays stored uncompressed) plus JSON entries under {@code zoo4j/} that
 * make it usable on its own: the recipe, class labels, input shape, normaliser, final metrics and, in checkpoints, the
 * training state and loop settings. Only JSON is added; nothing is Java-serialised, and DL4J's own
 * {@code ModelSerializer} still reads the file.
 *
 * <p>Every file zoo4j writes holds {@value #CARD} ({@link ModelFileCard}) with a SHA-256 digest over every other
 * entry, which {@link #load} verifies; a file without a card, or with entries its digest does not cover, is refused
 * unless the caller trusts it anyway ({@link Trust}). The digest catches accidental damage and files changed by tools
 * that do not know zoo4j. It is not a signature: whoever can change the file can recompute it. To know a file is the
 * one published, pin the SHA-256 of the whole file as its publisher gives it ({@link Trust#pinned}, {@code --sha256}).
 *
 * <p>Loading never runs Java deserialisation: a file with any entry beyond DL4J's
 * configuration, parameters and updater state and zoo4j's JSON entries (for instance DL4J's Java-serialised
 * {@code normalizer.bin} or {@code preprocessor.bin}, or a name such as {@code ../x}) is refused before DL4J reads it.
 * Nothing is ever extracted to disk from a model file.
 */
public final class ModelFile {
    public static final String RECIPE = "zoo4j/recipe.json";
    public static final String LABELS = "zoo4j/labels.json";
    public static final String PREPROCESSING = "zoo4j/preprocessing.json";
    public static final String METRICS = "zoo4j/metrics.json";
    public static final String STATE = "zoo4j/state.json";
    public static final String CARD = "zoo4j/card.json";
    public static final String LOOP = "zoo4j/loop.json";
    private static final String DL4J_PARAMETERS = "coefficients.bin";
    private static final String DL4J_UPDATER_STATE = "updaterState.bin";
    /** DL4J's own entries that a model file may hold; all are read without Java serialisation. */
    static final List<String> DL4J_ENTRIES = List.of("configuration.json", DL4J_PARAMETERS, DL4J_UPDATER_STATE,
            "noParams.marker");
    static final Pattern ZOO4J_ENTRY = Pattern.compile("zoo4j/[a-z0-9_-]+\\.json");

    /**
     * How images are turned into network input.
     *
     * @param input      the shape C,H,W images are resized and converted to
     * @param pixelRange pixel values before normalisation (0 to 255)
     */
    public record Preprocessing(InputShape input, String pixelRange) {
    }

    /**
     * What a caller trusts a model file by: by default its card's digest, which must cover every entry and match;
     * a pinned SHA-256 of the whole file ({@code sha256sum}), checked first when given; or, for a file without a card
     * or with entries its card does not cover, the caller's word ({@code allowUnverified}).
     */
    public record Trust(boolean allowUnverified, String sha256) {
        /** The card's digest, and nothing else. */
        public static final Trust CARD = new Trust(false, null);

        public Trust {
            if (sha256 != null && !sha256.matches("[0-9a-fA-F]{64}")) {
                throw new ConfigException("--sha256: 64 hexadecimal digits (as sha256sum prints them), got '" + sha256
                        + "'");
            }
        }

        /** The card's digest and this SHA-256 of the whole file. */
        public static Trust pinned(String sha256) {
            return new Trust(false, sha256);
        }
    }

    /**
     * A model file's contents. {@code recipe}, {@code metrics} and {@code state} may be null; so is {@code card} for a
     * file loaded with {@link Trust#allowUnverified()} that has none.
     */
    public record Loaded(ComputationGraph net, List<String> labels, Normalization normalization,
                         Preprocessing preprocessing, TrainingRecipe recipe, Map<String, Object> metrics,
                         TrainingState state, ModelFileCard card) {
    }

    /**
     * A checkpoint as the training loop reads it back to continue: the network (a graph or a multi-layer network,
     * with its optimiser state), where the run stood and how its loop runs. {@code labels} may be null.
     */
    public record Checkpoint(Model net, TrainingState state, LoopSettings loop, List<String> labels) {
    }

    private ModelFile() {
    }

    /** Writes {@code net} and the entries to {@code target} atomically: a kill at any moment leaves the old file. */
    public static void save(Path target, Model net, boolean withUpdater, Map<String, String> entries)
            throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path dl4j = Files.createTempFile(dir, "." + target.getFileName(), ".dl4j.part");
        try {
            Dl4jZip.write(net, dl4j, withUpdater);
            FaultInjection.point("modelfile:serialized");
            AtomicFiles.writeVia(target, temp -> copyWith(dl4j, temp, entries));
        } finally {
            Files.deleteIfExists(dl4j);
        }
    }

    /**
     * Writes a network built outside the trainer as a model file with its card: {@code recipe} names the model and its
     * settings, {@code labels} the classes, {@code input} the input shape.
     */
    public static void write(Path target, ComputationGraph net, TrainingRecipe recipe, List<String> labels,
                             Normalization normalization, InputShape input) throws IOException {
        save(target, net, false, entries(recipe, labels, normalization, input));
    }

    /** Adds or replaces JSON entries of an existing model file, atomically. */
    public static void putEntries(Path file, Map<String, String> entries) throws IOException {
        AtomicFiles.writeVia(file, temp -> copyWith(file, temp, entries));
    }

    /**
     * Copies {@code source} to {@code target} with {@code entries} added or replaced. When there is a card, its metrics
     * follow a new {@value #METRICS} entry and its digest is computed again over the new contents.
     */
    private static void copyWith(Path source, Path target, Map<String, String> given) throws IOException {
        try (ZipFile in = new ZipFile(source.toFile());
             ZipOutputStream zip = new ZipOutputStream(Files.newOutputStream(target))) {
            Map<String, String> entries = new LinkedHashMap<>(given);
            String cardJson = entries.containsKey(CARD) ? entries.get(CARD) : ModelFileIntegrity.readEntry(in, CARD);
            if (cardJson != null) {
                ModelFileCard card = Configs.fromJson(cardJson, ModelFileCard.class);
                if (entries.containsKey(METRICS)) {
                    card = card.withMetrics(Configs.json().readValue(entries.get(METRICS),
                            new TypeReference<Map<String, Object>>() { }));
                }
                entries.put(CARD, Configs.toJson(card.withDigest(ModelFileIntegrity.digest(in, entries))));
            }
            for (Enumeration<? extends ZipEntry> all = in.entries(); all.hasMoreElements(); ) {
                ZipEntry entry = all.nextElement();
                if (entries.containsKey(entry.getName())) {
                    continue;
                }
                ZipEntries.copy(in, entry, zip);
            }
            for (Map.Entry<String, String> e : entries.entrySet()) {
                zip.putNextEntry(new ZipEntry(e.getKey()));
                zip.write(e.getValue().getBytes(StandardCharsets.UTF_8));
                zip.closeEntry();
            }
        }
    }

    /**
     * The zoo4j entries of a network trained by {@code recipe}, its card included (sealed when the file is written);
     * a checkpoint adds its {@value #STATE} and {@value #LOOP}.
     */
    public static Map<String, String> entries(TrainingRecipe recipe, List<String> labels, Normalization normalization,
                                              InputShape input) {
        Map<String, String> entries = new LinkedHashMap<>();
        Object config = Dl4jNetworkFile.isNetworkFile(recipe.model()) ? recipe.modelConfig()
                : ModelRegistry.builtIn().get(recipe.model()).config(recipe.modelOverrides(labels.size()));
        Map<String, Object> architecture = Configs.json().convertValue(config,
                new TypeReference<Map<String, Object>>() { });
        FinetuneSettings finetune = recipe.finetune();
        String model = Dl4jNetworkFile.isNetworkFile(recipe.model()) ? Path.of(recipe.model()).getFileName().toString()
                : recipe.model();
        entries.put(CARD, Configs.toJson(new ModelFileCard(1, ModelFileCard.currentVersion(), model, architecture,
                input, labels, normalization, new Preprocessing(input, "0-255"), recipe.data(),
                finetune == null ? null : finetune.from(), finetune == null ? null : finetune.sha256(), null, null)));
        entries.put(RECIPE, Configs.toJson(recipe));
        entries.put(LABELS, Configs.toJson(labels));
        entries.put(Normalization.MODEL_ENTRY, normalization.toJson());
        entries.put(PREPROCESSING, Configs.toJson(new Preprocessing(input, "0-255")));
        return entries;
    }

    /** Reads a model file verified by its card; {@code withUpdater} also restores the optimiser state (for resuming). */
    public static Loaded load(Path file, boolean withUpdater) throws IOException {
        return load(file, withUpdater, Trust.CARD);
    }

    /** Reads a model file verified as {@code trust} says; {@code withUpdater} also restores the optimiser state. */
    public static Loaded load(Path file, boolean withUpdater, Trust trust) throws IOException {
        ModelFileIntegrity.Contents c = ModelFileIntegrity.readVerified(file, trust);
        if (!c.json().containsKey(LABELS) || !c.json().containsKey(PREPROCESSING)) {
            throw new ModelFileException(file + ": not a zoo4j model file (no " + LABELS + " / " + PREPROCESSING
                    + " entry); train one with ./zoo4j train");
        }
        if (!(restore(file, withUpdater) instanceof ComputationGraph net)) {
            throw new ModelFileException(file + ": holds a MultiLayerNetwork; zoo4j's models are ComputationGraphs");
        }
        Normalization norm = c.json().containsKey(Normalization.MODEL_ENTRY)
                ? Normalization.fromJson(c.json().get(Normalization.MODEL_ENTRY)) : Normalization.scale();
        return new Loaded(net, c.get(LABELS, new TypeReference<List<String>>() { }),
                norm, c.get(PREPROCESSING, Preprocessing.class), c.get(RECIPE, TrainingRecipe.class),
                c.get(METRICS, new TypeReference<Map<String, Object>>() { }), c.get(STATE, TrainingState.class),
                c.card());
    }

    /** The network of a model file (a graph or a multi-layer network), verified as {@link #load} does. */
    public static Model readNetwork(Path file) throws IOException {
        ModelFileIntegrity.readVerified(file, Trust.CARD);
        return restore(file, false);
    }

    /**
     * Reads a checkpoint written by the training loop, with its optimiser state. Its loop settings are those stored in
     * it, or {@code fallback} for checkpoints written before they were.
     */
    public static Checkpoint readCheckpoint(Path file, LoopSettings fallback) throws IOException {
        ModelFileIntegrity.Contents c = ModelFileIntegrity.readVerified(file, Trust.CARD);
        TrainingState state = c.get(STATE, TrainingState.class);
        if (state == null) {
            throw new ModelFileException(file + " holds no training state (" + STATE + "); it is not a checkpoint");
        }
        LoopSettings loop = c.get(LOOP, LoopSettings.class);
        if (loop == null && fallback == null) {
            throw new ModelFileException(file + " holds no loop settings (" + LOOP + "); give them to continue");
        }
        return new Checkpoint(restore(file, true), state, loop == null ? fallback : loop,
                c.get(LABELS, new TypeReference<List<String>>() { }));
    }

    /** The network of a model file: a ComputationGraph, or a MultiLayerNetwork where its configuration says so. */
    static Model restore(Path file, boolean withUpdater) throws IOException { // package-private: tested on its own
        String configuration;
        try (ZipFile zip = new ZipFile(file.toFile())) {
            configuration = ModelFileIntegrity.readEntry(zip, "configuration.json");
        }
        if (configuration == null) {
            throw new ModelFileException(file + ": not a model file (no configuration.json)");
        }
        JsonNode tree = Configs.json().readTree(configuration);
        Model net;
        try {
            net = tree.has("confs") ? ModelSerializer.restoreMultiLayerNetwork(file.toFile(), withUpdater)
                    : restoreGraph(file, configuration, withUpdater);
        } catch (IOException | RuntimeException e) {
            throw new ModelFileException(file + ": damaged: DL4J cannot read its network (" + e + "); download or "
                    + "train it again", e);
        }
        LayerHelpers.install(net); // evaluation, prediction, visualisation and resumed training alike
        return net;
    }

    /**
     * A graph read as DL4J's {@code ModelSerializer.restoreComputationGraph} reads it, but with its parameters (and
     * optimiser state) streamed from the zip straight into native memory: DL4J's reader first copies every entry of the
     * file, the optimiser state included even when it is not wanted, into byte arrays on the Java heap (for VGG16-BN
     * 59 MB of parameters and 118 MB of Adam state, in buffers that grow by copying). A file without the parameters
     * entry (DL4J's no-parameters marker) goes to DL4J's reader.
     */
    private static ComputationGraph restoreGraph(Path file, String configuration, boolean withUpdater)
            throws IOException {
        try (ZipFile zip = new ZipFile(file.toFile())) {
            ZipEntry coefficients = zip.getEntry(DL4J_PARAMETERS);
            if (coefficients == null || zip.getEntry("noParams.marker") != null) {
                return ModelSerializer.restoreComputationGraph(file.toFile(), withUpdater);
            }
            ComputationGraphConfiguration conf = ComputationGraphConfiguration.fromJson(configuration);
            INDArray params = readArray(zip, coefficients);
            conf.setDataType(params.dataType()); // as DL4J's reader does: the parameters' type is the network's
            ComputationGraph net;
            try {
                net = new ComputationGraph(conf);
                net.init(params, false);
            } catch (RuntimeException | Error e) {
                params.close();
                throw e;
            }
            ZipEntry state = zip.getEntry(DL4J_UPDATER_STATE);
            if (withUpdater && state != null) {
                net.getUpdater().setStateViewArray(readArray(zip, state));
            }
            return net;
        }
    }

    private static INDArray readArray(ZipFile zip, ZipEntry entry) throws IOException {
        try (DataInputStream in = new DataInputStream(new BufferedInputStream(zip.getInputStream(entry), 1 << 16))) {
            return Nd4j.read(in);
        }
    }

    /** The model file a path names: a zip as it is; a run directory's best model, or its last when there is no best. */
    public static Path resolve(Path runOrModel) {
        if (Files.isDirectory(runOrModel)) {
            for (String name : List.of("best.zip", "last.zip")) {
                if (Files.isRegularFile(runOrModel.resolve(name))) {
                    return runOrModel.resolve(name);
                }
            }
            throw new ModelFileException(runOrModel + ": a directory without best.zip or last.zip; not a run directory");
        }
        if (!Files.exists(runOrModel)) {
            throw new ModelFileException(runOrModel + ": no such file or directory (a model file .zip or a run directory)");
        }
        return runOrModel;
    }
}
