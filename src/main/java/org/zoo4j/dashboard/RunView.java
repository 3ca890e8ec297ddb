package org.zoo4j.dashboard;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.zoo4j.base.Configs;
import org.zoo4j.base.Table;
import org.zoo4j.data.DatasetManifest;
import org.zoo4j.modelfile.ModelFile;
import org.zoo4j.recipe.TrainingRecipe;
import org.zoo4j.training.RunDirectory;
import org.zoo4j.training.StatsRecorder;
import org.zoo4j.training.Trainer;
import org.zoo4j.zoo.Dl4jNetworkFile;
import org.zoo4j.zoo.ModelRegistry;
import org.zoo4j.zoo.NetworkLayout;

/**
 * One run directory as the dashboard shows it, read from the files the training loop writes (recipe.yaml,
 * metrics.csv, results.json, train.log, stats.jsonl): never written to. Kept per run by the server, so that
 * stats.jsonl is read incrementally and the layer table is built once.
 */
final class RunView {
    /** The files of a run that the dashboard serves, and as what. */
    static final Map<String, String> FILES = Map.of(
            Trainer.RECIPE_FILE, "text/plain; charset=utf-8",
            RunDirectory.METRICS, "text/plain; charset=utf-8",
            RunDirectory.RESULTS, "application/json; charset=utf-8",
            RunDirectory.LOG, "text/plain; charset=utf-8",
            StatsRecorder.FILE, "text/plain; charset=utf-8",
            Dl4jNetworkFile.RUN_FILE, "application/json; charset=utf-8",
            "loss.png", "image/png",
            "accuracy.png", "image/png",
            "confusion.png", "image/png");

    /** Unfinished runs whose files changed within this long count as running. */
    private static final long RUNNING_MILLIS = 10 * 60_000;

    private final Path dir;
    private final StatsFile stats;
    private FileTime tableRecipeTime;
    private long tableOutputs = -1;
    private Map<String, Object> table;

    RunView(Path dir) {
        this.dir = dir;
        this.stats = new StatsFile(dir.resolve(StatsRecorder.FILE));
    }

    Path dir() {
        return dir;
    }

    /** What the index lists: name, model, dataset, status, epochs, accuracies. */
    Map<String, Object> summary() throws IOException {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("name", dir.getFileName().toString());
        s.put("path", dir.toString());
        JsonNode recipe = recipeTree();
        s.put("model", recipe == null ? null : text(recipe.path("model")));
        s.put("dataset", recipe == null ? null : text(recipe.path("data").path("dataset")));
        s.put("epochsPlanned", recipe == null ? null : recipe.path("epochs").asInt(10));
        List<Map<String, Object>> epochs = epochs();
        s.put("epochsDone", epochs.size());
        s.put("validationAccuracy", epochs.isEmpty() ? null : epochs.get(epochs.size() - 1).get("validationAccuracy"));
        JsonNode results = results();
        s.put("testAccuracy", results == null || !results.has("testAccuracy") ? null
                : results.get("testAccuracy").asDouble());
        s.put("status", status(results));
        s.put("updated", updated());
        return s;
    }

    /** Everything the run page shows; stats lines only after step {@code after}, which the page already has. */
    Map<String, Object> detail(long after) throws IOException {
        Map<String, Object> d = summary();
        d.put("recipe", Files.isRegularFile(dir.resolve(Trainer.RECIPE_FILE))
                ? Files.readString(dir.resolve(Trainer.RECIPE_FILE)) : null);
        d.put("epochs", epochs());
        d.put("results", results());
        JsonNode start = stats.start();
        d.put("statsEvery", start == null ? null : start.path("every").asInt());
        d.put("stats", stats.stepsAfter(after));
        d.put("layers", layerTable(start));
        d.put("log", logTail(30));
        List<String> files = new ArrayList<>();
        for (String name : FILES.keySet().stream().sorted().toList()) {
            if (Files.isRegularFile(dir.resolve(name))) {
                files.add(name);
            }
        }
        d.put("files", files);
        return d;
    }

    /** metrics.csv as rows keyed by camel-case column names; NaN as null. */
    List<Map<String, Object>> epochs() throws IOException {
        Path file = dir.resolve(RunDirectory.METRICS);
        List<Map<String, Object>> rows = new ArrayList<>();
        if (!Files.isRegularFile(file)) {
            return rows;
        }
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        if (lines.isEmpty()) {
            return rows;
        }
        String[] header = lines.get(0).split(",");
        for (String line : lines.subList(1, lines.size())) {
            String[] cells = line.split(",");
            if (cells.length != header.length) {
                continue;
            }
            Map<String, Object> row = new LinkedHashMap<>();
            for (int i = 0; i < header.length; i++) {
                double v;
                try {
                    v = Double.parseDouble(cells[i]);
                } catch (NumberFormatException e) {
                    v = Double.NaN;
                }
                row.put(camel(header[i]), Double.isFinite(v) ? (Object) v : null);
            }
            rows.add(row);
        }
        return rows;
    }

    private JsonNode results() {
        Path file = dir.resolve(RunDirectory.RESULTS);
        try {
            return Files.isRegularFile(file) ? Configs.json().readTree(file.toFile()) : null;
        } catch (IOException e) {
            return null;
        }
    }

    private JsonNode recipeTree() {
        Path file = dir.resolve(Trainer.RECIPE_FILE);
        try {
            return Files.isRegularFile(file) ? Configs.yaml().readTree(file.toFile()) : null;
        } catch (IOException e) {
            return null;
        }
    }

    /**
     * completed or early_stopped (results.json), interrupted, diverged or pruned (the log's last word on it), else
     * running when a file changed in the last minutes, or unfinished.
     */
    private String status(JsonNode results) throws IOException {
        if (results != null && results.has("status")) {
            return results.get("status").asText();
        }
        List<String> log = logTail(200);
        for (int i = log.size() - 1; i >= 0; i--) {
            String line = log.get(i);
            if (line.contains(" interrupted ")) {
                return "interrupted";
            }
            if (line.contains(" loss became ")) {
                return "diverged";
            }
            if (line.contains(" pruned after epoch ")) {
                return "pruned";
            }
            if (line.contains(" resuming ") || line.contains(" run ")) {
                break;
            }
        }
        return System.currentTimeMillis() - updated() < RUNNING_MILLIS ? "running" : "unfinished";
    }

    /** When a file of the run last changed (ms since the epoch). */
    long updated() throws IOException {
        long latest = 0;
        for (String name : List.of(RunDirectory.LOG, StatsRecorder.FILE, RunDirectory.METRICS, RunDirectory.LAST,
                RunDirectory.RESULTS, Trainer.RECIPE_FILE)) {
            Path f = dir.resolve(name);
            if (Files.isRegularFile(f)) {
                latest = Math.max(latest, Files.getLastModifiedTime(f).toMillis());
            }
        }
        return latest;
    }

    private List<String> logTail(int lines) throws IOException {
        Path file = dir.resolve(RunDirectory.LOG);
        if (!Files.isRegularFile(file)) {
            return List.of();
        }
        List<String> all = Files.readAllLines(file, StandardCharsets.UTF_8);
        return List.copyOf(all.subList(Math.max(0, all.size() - lines), all.size()));
    }

    /**
     * The layer table as {@code ./zoo4j describe} prints it, for a run of a registered model (from its recipe and
     * its number of classes); for other networks the layers the stats recorder listed; or a note why there is none.
     */
    private synchronized Map<String, Object> layerTable(JsonNode start) {
        Path recipeFile = dir.resolve(Trainer.RECIPE_FILE);
        try {
            if (Files.isRegularFile(recipeFile)) {
                FileTime time = Files.getLastModifiedTime(recipeFile);
                long outputs = outputs(start);
                if (table != null && time.equals(tableRecipeTime) && outputs == tableOutputs) {
                    return table;
                }
                TrainingRecipe recipe = TrainingRecipe.read(recipeFile);
                if (!Dl4jNetworkFile.isNetworkFile(recipe.model()) && outputs > 0) {
                    table = describe(recipe, (int) outputs);
                    tableRecipeTime = time;
                    tableOutputs = outputs;
                    return table;
                }
            }
        } catch (IOException | RuntimeException e) {
            return Map.of("note", "no layer table: " + e.getMessage());
        }
        if (start != null && start.has("network")) {
            List<Map<String, Object>> rows = new ArrayList<>();
            for (JsonNode l : start.get("network")) {
                rows.add(Map.of("name", l.path("name").asText(), "type", l.path("type").asText(),
                        "params", l.path("params").asLong() == 0 ? "" : Table.count(l.path("params").asLong())));
            }
            return Map.of("source", "network", "rows", rows);
        }
        return Map.of("note", "no layer table: the run has no recipe.yaml naming a registered model, and no "
                + StatsRecorder.FILE + " listing its layers");
    }

    private static Map<String, Object> describe(TrainingRecipe recipe, int classes) {
        NetworkLayout net = ModelRegistry.builtIn().get(recipe.model()).define(recipe.modelOverrides(classes));
        List<Map<String, Object>> rows = new ArrayList<>();
        rows.add(row(NetworkLayout.inputName(), "input", net.shape(NetworkLayout.inputName()).toString(), "", "",
                ""));
        for (NetworkLayout.Layer l : net.layers()) {
            rows.add(row(l.name(), l.type(), l.output().toString(), l.trainable() == 0 ? "" : Table.count(l.trainable()),
                    l.macs() == 0 ? "" : Table.si(l.macs()), l.arithmetic()));
        }
        Map<String, Object> t = new LinkedHashMap<>();
        t.put("source", "describe");
        t.put("title", recipe.model() + ", " + classes + " classes");
        t.put("rows", rows);
        t.put("trainable", Table.count(net.trainableParams()));
        t.put("total", Table.count(net.totalParams()));
        t.put("macs", Table.count(net.macs()) + " (" + Table.si(net.macs()) + ")");
        return t;
    }

    private static Map<String, Object> row(String name, String type, String output, String params, String macs,
                                           String arithmetic) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("name", name);
        r.put("type", type);
        r.put("output", output);
        r.put("params", params);
        r.put("macs", macs);
        r.put("arithmetic", arithmetic);
        return r;
    }

    /** The network's outputs: as the stats recorder saw them, else the labels in a model file, else the dataset's. */
    private long outputs(JsonNode start) throws IOException {
        if (start != null && start.path("outputs").asLong() > 0) {
            return start.path("outputs").asLong();
        }
        for (Path zip : List.of(dir.resolve(RunDirectory.BEST), dir.resolve(RunDirectory.LAST))) {
            if (Files.isRegularFile(zip)) {
                try (ZipFile z = new ZipFile(zip.toFile())) {
                    ZipEntry labels = z.getEntry(ModelFile.LABELS);
                    if (labels != null) {
                        return Configs.json().readTree(z.getInputStream(labels)).size();
                    }
                } catch (IOException e) {
                    // being replaced: try the next
                }
            }
        }
        JsonNode recipe = recipeTree();
        if (recipe != null) {
            JsonNode classes = recipe.path("data").path("classes");
            if (classes.isArray() && classes.size() > 0) {
                return classes.size();
            }
            try {
                return DatasetManifest.load().get(recipe.path("data").path("dataset").asText("fashion-mnist"))
                        .classes().size();
            } catch (RuntimeException e) {
                return -1;
            }
        }
        return -1;
    }

    private static String camel(String snake) {
        StringBuilder b = new StringBuilder();
        boolean up = false;
        for (char c : snake.trim().toCharArray()) {
            if (c == '_') {
                up = true;
            } else {
                b.append(up ? Character.toUpperCase(c) : c);
                up = false;
            }
        }
        return b.toString();
    }

    private static String text(JsonNode node) {
        return node.isMissingNode() || node.isNull() ? null : node.asText();
    }
}
