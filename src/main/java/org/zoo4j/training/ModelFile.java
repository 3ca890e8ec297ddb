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

/**
 * A zoo4j model file: DL4J's ModelSerializer zip (configuration, parameters, optionally updater state) plus JSON
 * entries under {@code zoo4j/} that make it usable on its own: the recipe, class labels, input shape, normaliser, final
 * metrics and, in checkpoints, the training state. Only JSON is added; nothing is Java-serialised.
 */
public final class ModelFile {
    public static final String RECIPE = "zoo4j/recipe.json";
    public static final String LABELS = "zoo4j/labels.json";
    public static final String PREPROCESSING = "zoo4j/preprocessing.json";
    public static final String METRICS = "zoo4j/metrics.json";
    public static final String STATE = "zoo4j/state.json";

    /**
     * How images are turned into network input.
     *
     * @param input      the shape C,H,W images are resized and converted to
     * @param pixelRange pixel values before normalisation (0 to 255)
     */
    public record Preprocessing(InputShape input, String pixelRange) {
    }

    /** A model file's contents. {@code recipe}, {@code metrics} and {@code state} may be null. */
    public record Loaded(ComputationGraph net, List<String> labels, Normalization normalization,
                         Preprocessing preprocessing, TrainingRecipe recipe, Map<String, Object> metrics,
                         TrainingState state) {
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

    /** Adds or replaces JSON entries of an existing model file, atomically. */
    public static void putEntries(Path file, Map<String, String> entries) throws IOException {
        AtomicFiles.writeVia(file, temp -> copyWith(file, temp, entries));
    }

    private static void copyWith(Path source, Path target, Map<String, String> entries) throws IOException {
        try (ZipFile in = new ZipFile(source.toFile());
             ZipOutputStream zip = new ZipOutputStream(Files.newOutputStream(target))) {
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

    /** The zoo4j entries for a trained network. */
    static Map<String, String> entries(TrainingRecipe recipe, List<String> labels, Normalization normalization,
                                       InputShape input, TrainingState state) {
        Map<String, String> entries = new LinkedHashMap<>();
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
        try (ZipFile zip = new ZipFile(file.toFile())) {
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
        return new Loaded(net, labels, norm, pre, recipe, metrics, state);
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
