package org.zoo4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.zoo4j.base.Configs;
import org.zoo4j.zoo.WeightsManifest;

/**
 * A published figure cannot drift from its evidence: every line of the READMEs that names a run kept in
 * {@code training/results/} and quotes a percentage must quote that run's test accuracy as its {@code results.json}
 * gives it (to two decimals, top-5 too where the line gives one), each kept run holds its record, and each weight set
 * shipped with the zoo publishes the accuracy of the run it names.
 */
class PublishedResultsTest {
    private static final Path RESULTS = Path.of("training", "results");
    private static final Pattern RUN_REFERENCE =
            Pattern.compile("(?:training/)?results/([A-Za-z0-9._-]+-\\d{4}-\\d{2}-\\d{2})");

    static List<Path> keptRuns() throws IOException {
        try (Stream<Path> dirs = Files.list(RESULTS)) {
            return dirs.filter(Files::isDirectory).sorted().toList();
        }
    }

    private static Map<?, ?> results(String run) throws IOException {
        Path file = RESULTS.resolve(run).resolve("results.json");
        assertTrue(Files.isRegularFile(file), file + ": a published run without its results");
        return Configs.json().readValue(file.toFile(), Map.class);
    }

    private static String percent(Object fraction) {
        return String.format(Locale.ROOT, "%.2f%%", 100 * ((Number) fraction).doubleValue());
    }

    @Test
    void everyKeptRunHoldsItsRecord() throws IOException {
        List<Path> runs = keptRuns();
        assertFalse(runs.isEmpty(), "no published runs in " + RESULTS);
        for (Path run : runs) {
            for (String file : List.of("recipe.yaml", "run.json", "metrics.csv", "results.json", "train.log")) {
                assertTrue(Files.isRegularFile(run.resolve(file)), run + ": " + file);
            }
            Map<?, ?> record = Configs.json().readValue(run.resolve("run.json").toFile(), Map.class);
            List<?> starts = (List<?>) record.get("starts");
            assertFalse(starts.isEmpty(), run + ": run.json lists no start");
            String code = (String) ((Map<?, ?>) starts.get(0)).get("code");
            assertTrue(code.matches("commit [0-9a-f]{7,40}"), run + ": a published run names its commit, with no "
                    + "uncommitted changes: " + code);
            Object status = results(run.getFileName().toString()).get("status");
            assertTrue(List.of("completed", "early_stopped").contains(status), run + ": status " + status);
        }
    }

    @Test
    void readmeLinesQuoteTheirRunsAccuracyAsRecorded() throws IOException {
        int checked = 0;
        List<String> wrong = new ArrayList<>();
        for (Path readme : List.of(Path.of("README.md"), Path.of("training", "README.md"))) {
            for (String line : Files.readAllLines(readme)) {
                if (!line.contains("%")) {
                    continue; // names a run (a command, a path) without quoting a figure
                }
                Matcher m = RUN_REFERENCE.matcher(line);
                while (m.find()) {
                    Map<?, ?> results = results(m.group(1));
                    String top1 = percent(results.get("testAccuracy"));
                    if (!line.contains(top1)) {
                        wrong.add(readme + ": " + m.group(1) + " has test accuracy " + top1 + ": " + line);
                    }
                    if (line.contains("top-5") && !line.contains("top-5 " + percent(results.get("testTop5")))) {
                        wrong.add(readme + ": " + m.group(1) + " has top-5 " + percent(results.get("testTop5")) + ": "
                                + line);
                    }
                    checked++;
                }
            }
        }
        assertTrue(wrong.isEmpty(), String.join("\n", wrong));
        assertTrue(checked > 0, "the READMEs name no published run");
    }

    @Test
    void shippedWeightsPublishTheirRunsAccuracy() throws IOException {
        WeightsManifest manifest = WeightsManifest.read(Path.of(WeightsManifest.REPO_FILE));
        int shipped = 0;
        for (var e : manifest.weights().entrySet()) {
            if (e.getValue().format() != WeightsManifest.Format.ZOO4J) {
                continue;
            }
            shipped++;
            WeightsManifest.Accuracy accuracy = e.getValue().accuracy();
            Matcher m = RUN_REFERENCE.matcher(accuracy.source());
            assertTrue(m.find(), e.getKey() + ": accuracy.source names no run in training/results: " + accuracy.source());
            Map<?, ?> results = results(m.group(1));
            assertEquals(percent(results.get("testAccuracy")), String.format(Locale.ROOT, "%.2f%%", accuracy.top1()),
                    e.getKey() + ": top-1");
            assertEquals(percent(results.get("testTop5")), String.format(Locale.ROOT, "%.2f%%", accuracy.top5()),
                    e.getKey() + ": top-5");
        }
        assertTrue(shipped > 0, "no weight set ships with the zoo");
    }
}
