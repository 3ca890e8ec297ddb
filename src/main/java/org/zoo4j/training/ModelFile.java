package org.zoo4j.training;

import org.zoo4j.data.AtomicFiles;
import com.fasterxml.jackson.core.type.TypeReference;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.util.ModelSerializer;
import org.zoo4j.data.Normalization;
import org.zoo4j.zoo.Configs;
import org.zoo4j.zoo.InputShape;
import org.zoo4j.zoo.Zoo;

/**
 * A zoo4j model file: DL4J's ModelSerializer zip (configuration, parameters, optionally updater state) plus JSON
 * entries under {@code zoo4j/} that make it usable on its own: the recipe, class labels, input shape, normaliser, final
 * metrics and, in checkpoints, the training state. Only JSON is added; nothing is Java-serialised.
 *
 * <p>Files written since the card was introduced also hold {@value #CARD} ({@link TrainedModelCard}) with a SHA-256
 * digest that {@link #load} verifies. Loading never runs Java deserialisation: a file with any entry beyond DL4J's
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
    /** DL4J's own entries that a model file may hold; all are read without Java serialisation. */
    static final List<String> DL4J_ENTRIES = List.of("configuration.json", "coefficients.bin", "updaterState.bin",
            "noParams.marker");
    /** The entries the card's digest covers, in hashing order, where present. */
    static final List<String> SEALED = List.of("configuration.json", "coefficients.bin", "updaterState.bin", LABELS,
            Normalization.MODEL_ENTRY, PREPROCESSING);
    private static final java.util.regex.Pattern ZOO4J_ENTRY = java.util.regex.Pattern.compile("zoo4j/[a-z0-9_-]+\\.json");

    /**
     * How images are turned into network input.
     *
     * @param input      the shape C,H,W images are resized and converted to
     * @param pixelRange pixel values before normalisation (0 to 255)
     */
    public record Preprocessing(InputShape input, String pixelRange) {
    }

    /**
     * A model file's contents. {@code recipe}, {@code metrics} and {@code state} may be null; so is {@code card} for
     * files written before cards (their contents are not verified).
     */
    public record Loaded(ComputationGraph net, List<String> labels, Normalization normalization,
                         Preprocessing preprocessing, TrainingRecipe recipe, Map<String, Object> metrics,
                         TrainingState state, TrainedModelCard card) {
    }

    private ModelFile() {
    }

    /** Writes {@code net} and the entries to {@code target} atomically: a kill at any moment leaves the old file. */
    public static void save(Path target, ComputationGraph net, boolean withUpdater, Map<String, String> entries)
            throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path dl4j = Files.createTempFile(dir, "." + target.getFileName(), ".dl4j.part");
        try {
            ModelSerializer.writeModel(net, dl4j.toFile(), withUpdater);
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
        save(target, net, false, entries(recipe, labels, normalization, input, null));
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
            String cardJson = entries.containsKey(CARD) ? entries.get(CARD) : readEntry(in, CARD);
            if (cardJson != null) {
                TrainedModelCard card = Configs.fromJson(cardJson, TrainedModelCard.class);
                if (entries.containsKey(METRICS)) {
                    card = card.withMetrics(Configs.json().readValue(entries.get(METRICS),
                            new TypeReference<Map<String, Object>>() { }));
                }
                entries.put(CARD, Configs.toJson(card.withDigest(digest(in, entries))));
            }
            for (Enumeration<? extends ZipEntry> all = in.entries(); all.hasMoreElements(); ) {
                ZipEntry entry = all.nextElement();
                if (entries.containsKey(entry.getName())) {
                    continue;
                }
                zip.putNextEntry(new ZipEntry(entry.getName()));
                try (InputStream data = in.getInputStream(entry)) {
                    data.transferTo(zip);
                }
                zip.closeEntry();
            }
            for (Map.Entry<String, String> e : entries.entrySet()) {
                zip.putNextEntry(new ZipEntry(e.getKey()));
                zip.write(e.getValue().getBytes(StandardCharsets.UTF_8));
                zip.closeEntry();
            }
        }
    }

    private static String readEntry(ZipFile zip, String name) throws IOException {
        ZipEntry entry = zip.getEntry(name);
        if (entry == null) {
            return null;
        }
        try (InputStream in = zip.getInputStream(entry)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /** The digest of the {@link #SEALED} entries of {@code zip}, with {@code replaced} ones taken from the map. */
    static TrainedModelCard.Digest digest(ZipFile zip, Map<String, String> replaced) throws IOException {
        java.security.MessageDigest sha;
        try {
            sha = java.security.MessageDigest.getInstance("SHA-256");
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
        List<String> covered = new java.util.ArrayList<>();
        byte[] buffer = new byte[1 << 16];
        for (String name : SEALED) {
            byte[] given = replaced.containsKey(name) ? replaced.get(name).getBytes(StandardCharsets.UTF_8) : null;
            ZipEntry entry = given == null ? zip.getEntry(name) : null;
            if (given == null && entry == null) {
                continue;
            }
            covered.add(name);
            sha.update(name.getBytes(StandardCharsets.UTF_8));
            sha.update((byte) 0);
            if (given != null) {
                sha.update(java.nio.ByteBuffer.allocate(8).putLong(given.length).array());
                sha.update(given);
            } else {
                // The length first, from the bytes actually read (the zip's recorded size could lie): hash a count
                // pass, then the bytes.
                long length = 0;
                try (InputStream data = zip.getInputStream(entry)) {
                    for (int n; (n = data.read(buffer)) > 0; ) {
                        length += n;
                    }
                }
                sha.update(java.nio.ByteBuffer.allocate(8).putLong(length).array());
                try (InputStream data = zip.getInputStream(entry)) {
                    for (int n; (n = data.read(buffer)) > 0; ) {
                        sha.update(buffer, 0, n);
                    }
                }
            }
        }
        return new TrainedModelCard.Digest(List.copyOf(covered), java.util.HexFormat.of().formatHex(sha.digest()));
    }

    /**
     * Refuses model files that could make DL4J run Java deserialisation or that name paths outside an archive: only
     * {@link #DL4J_ENTRIES} and {@code zoo4j/NAME.json} entries are allowed.
     */
    static void checkEntries(Path file, ZipFile zip) {
        for (Enumeration<? extends ZipEntry> all = zip.entries(); all.hasMoreElements(); ) {
            String name = all.nextElement().getName();
            if (!DL4J_ENTRIES.contains(name) && !ZOO4J_ENTRY.matcher(name).matches()) {
                throw new IllegalArgumentException(file + ": refused: unexpected entry '" + name + "'; a zoo4j model "
                        + "file holds only " + DL4J_ENTRIES + " and zoo4j/*.json entries (Java-serialised objects such "
                        + "as normalizer.bin and paths outside the archive are never read). Do not use this file.");
            }
        }
    }

    /** The zoo4j entries for a trained network, its card included (sealed when the file is written). */
    static Map<String, String> entries(TrainingRecipe recipe, List<String> labels, Normalization normalization,
                                       InputShape input, TrainingState state) {
        Map<String, String> entries = new LinkedHashMap<>();
        Object config = NetworkFile.isNetworkFile(recipe.model()) ? recipe.modelConfig()
                : Zoo.get(recipe.model()).config(recipe.modelOverrides(labels.size()));
        Map<String, Object> architecture = Configs.json().convertValue(config,
                new TypeReference<Map<String, Object>>() { });
        String from = recipe.finetune() == null ? null : recipe.finetune().from();
        entries.put(CARD, Configs.toJson(new TrainedModelCard(1, TrainedModelCard.currentVersion(),
                NetworkFile.isNetworkFile(recipe.model()) ? Path.of(recipe.model()).getFileName().toString() : recipe.model(),
                architecture, input, labels, normalization, new Preprocessing(input, "0-255"), recipe.data(), from,
                null, null)));
        entries.put(RECIPE, Configs.toJson(recipe));
        entries.put(LABELS, Configs.toJson(labels));
        entries.put(Normalization.MODEL_ENTRY, normalization.toJson());
        entries.put(PREPROCESSING, Configs.toJson(new Preprocessing(input, "0-255")));
        if (state != null) {
            entries.put(STATE, Configs.toJson(state));
        }
        return entries;
    }

    /** Reads a model file; {@code withUpdater} also restores the optimiser state (for resuming). */
    public static Loaded load(Path file, boolean withUpdater) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new NoSuchFileException(file + " (a model file .zip or a run directory)");
        }
        Map<String, String> json = new LinkedHashMap<>();
        TrainedModelCard card = null;
        try (ZipFile zip = new ZipFile(file.toFile())) {
            checkEntries(file, zip);
            String cardJson = readEntry(zip, CARD);
            if (cardJson != null) {
                card = Configs.fromJson(cardJson, TrainedModelCard.class);
                TrainedModelCard.Digest actual = digest(zip, Map.of());
                if (card.sha256() == null || !actual.equals(card.sha256())) {
                    throw new IllegalArgumentException(file + ": SHA-256 check failed: the card records "
                            + (card.sha256() == null ? "no digest" : card.sha256().value() + " over " + card.sha256().covers())
                            + " but the file's entries give " + actual.value() + " over " + actual.covers()
                            + "; the file was changed after zoo4j wrote it, or is damaged. Do not use it: download "
                            + "or train it again.");
                }
            }
            for (String name : List.of(RECIPE, LABELS, PREPROCESSING, METRICS, STATE, Normalization.MODEL_ENTRY)) {
                ZipEntry entry = zip.getEntry(name);
                if (entry != null) {
                    try (InputStream in = zip.getInputStream(entry)) {
                        json.put(name, new String(in.readAllBytes(), StandardCharsets.UTF_8));
                    }
                }
            }
        } catch (java.util.zip.ZipException e) {
            throw new IllegalArgumentException(file + ": not a model file (not a zip: " + e.getMessage() + ")");
        }
        if (!json.containsKey(LABELS) || !json.containsKey(PREPROCESSING)) {
            throw new IllegalArgumentException(file + ": not a zoo4j model file (no " + LABELS + " / " + PREPROCESSING
                    + " entry); train one with ./zoo4j train");
        }
        ComputationGraph net = ModelSerializer.restoreComputationGraph(file.toFile(), withUpdater);
        List<String> labels = Configs.json().readValue(json.get(LABELS), new TypeReference<List<String>>() { });
        Preprocessing pre = Configs.fromJson(json.get(PREPROCESSING), Preprocessing.class);
        Normalization norm = json.containsKey(Normalization.MODEL_ENTRY)
                ? Normalization.fromJson(json.get(Normalization.MODEL_ENTRY)) : Normalization.scale();
        TrainingRecipe recipe = json.containsKey(RECIPE) ? Configs.fromJson(json.get(RECIPE), TrainingRecipe.class) : null;
        Map<String, Object> metrics = json.containsKey(METRICS)
                ? Configs.json().readValue(json.get(METRICS), new TypeReference<Map<String, Object>>() { }) : null;
        TrainingState state = json.containsKey(STATE) ? Configs.fromJson(json.get(STATE), TrainingState.class) : null;
        return new Loaded(net, labels, norm, pre, recipe, metrics, state, card);
    }

    /** The model file a path names: a zip as it is; a run directory's best model, or its last when there is no best. */
    public static Path resolve(Path runOrModel) throws NoSuchFileException {
        if (Files.isDirectory(runOrModel)) {
            for (String name : List.of("best.zip", "last.zip")) {
                if (Files.isRegularFile(runOrModel.resolve(name))) {
                    return runOrModel.resolve(name);
                }
            }
            throw new NoSuchFileException(runOrModel + ": a directory without best.zip or last.zip; not a run directory");
        }
        if (!Files.exists(runOrModel)) {
            throw new NoSuchFileException(runOrModel + " (a model file .zip or a run directory)");
        }
        return runOrModel;
    }
}
