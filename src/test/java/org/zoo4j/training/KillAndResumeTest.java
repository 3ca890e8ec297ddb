package org.zoo4j.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.deeplearning4j.nn.api.Model;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.zoo4j.base.Configs;
import org.zoo4j.base.FaultInjection;
import org.zoo4j.cli.Main;
import org.zoo4j.modelfile.ModelFile;
import org.zoo4j.runtime.Backend;

/**
 * Kills a training process at many points, inside every step of writing a checkpoint and the run's results among
 * them, resumes it, and checks that the run ends exactly as an uninterrupted run of the same seed: the same best and
 * last models, metrics, log and report, and no stray files. A kill is {@link FaultInjection}'s halt, as abrupt as
 * {@code kill -9}: no shutdown hook, no finally block.
 */
class KillAndResumeTest {
    @TempDir
    Path dir;

    /** LeNet-5 on 400 Fashion-MNIST images, 80 of them for validation, 3 epochs of 10 batches: about 2 s of training. */
    private static final List<String> RUN = List.of("train", "--offline", "--subset", "400", "--epochs", "3",
            "--batch-size", "32", "--set", "data.validationFraction=0.2");

    private record Child(int exitCode, String output) {
    }

    private static Child child(List<String> jvm, List<String> args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString(), "-Xmx1g"));
        command.addAll(jvm);
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName()));
        command.addAll(args);
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "the child did not end: " + out);
        return new Child(p.exitValue(), out);
    }

    private static List<String> with(List<String> base, String... more) {
        List<String> all = new ArrayList<>(base);
        all.addAll(List.of(more));
        return all;
    }

    @Test
    void aRunKilledAnywhereAndResumedEndsAsAnUninterruptedRun() throws Exception {
        Path reference = dir.resolve("reference");
        Child ref = child(List.of(), with(RUN, "--out", reference.toString()));
        assertEquals(0, ref.exitCode(), ref.output());
        List<String> metrics = Files.readAllLines(reference.resolve(RunDirectory.METRICS));
        List<Integer> improved = new ArrayList<>();
        for (String line : Files.readAllLines(reference.resolve(RunDirectory.LOG))) {
            if (line.contains(" epoch ") && line.endsWith("(best)")) {
                improved.add(Integer.parseInt(line.replaceFirst(".* epoch (\\d+)/3:.*", "$1")));
            }
        }
        assertTrue(improved.size() >= 2, "two improving epochs to kill inside best.zip's writes: " + improved);

        // name:count, the count-th time the point is reached in the killed run
        List<String> points = List.of(
                "batch:5",                                  // epoch 1: no checkpoint yet, so it starts again
                "batch:15",                                 // epoch 2, after epoch 1's checkpoint
                "modelfile:serialized:3",                   // inside a model file's write
                "atomic-write:last.zip:2",                  // a file written, not yet renamed into place
                "commit:staged-last:2",
                "commit:staged-best:2",                     // best.zip of the second improving epoch staged
                "commit:staged-metrics:2",
                "commit:written:2",                         // the commit record written, nothing moved yet
                "commit:moved-last.zip:2",                  // last.zip in place, best.zip not yet
                "commit:moved-best.zip:" + improved.size(), // best.zip in place, metrics.csv not yet
                "commit:moved-metrics.csv:3",
                "commit:logged:3",                          // all in place, the commit record not yet removed
                "finish:best-metrics:1",                    // the results written into best.zip, not yet last.zip
                "finish:last-metrics:1",
                "atomic-write:results.json:1");             // results.json written, not renamed
        // Two kill-and-resume sequences at a time: each child spends most of its time starting up.
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            List<Future<?>> checks = new ArrayList<>();
            for (String point : points) {
                checks.add(pool.submit(() -> {
                    Path run = dir.resolve(point.replaceAll("[^A-Za-z0-9]+", "-"));
                    Child killed = child(List.of("-D" + FaultInjection.PROPERTY + "=" + point), with(RUN, "--out",
                            run.toString()));
                    assertEquals(FaultInjection.EXIT_CODE, killed.exitCode(), point + ": the point was not reached: "
                            + killed.output());
                    Child resumed = child(List.of(), List.of("train", "--resume", run.toString()));
                    assertEquals(0, resumed.exitCode(), point + ": " + resumed.output());
                    assertSameRun(point, reference, run, metrics);
                    return null;
                }));
            }
            for (Future<?> check : checks) {
                try {
                    check.get();
                } catch (ExecutionException e) {
                    throw e.getCause() instanceof Error error ? error : new AssertionError(e.getCause());
                }
            }
        } finally {
            pool.shutdownNow();
        }
        System.out.println("KillAndResumeTest: " + points.size() + " kill points, each resumed to the same end: "
                + points);
    }

    private static void assertSameRun(String point, Path reference, Path run, List<String> metrics) throws Exception {
        assertEquals(withoutTimes(metrics), withoutTimes(Files.readAllLines(run.resolve(RunDirectory.METRICS))),
                point + ": metrics.csv");
        Map<?, ?> expected = Configs.json().readValue(reference.resolve(RunDirectory.RESULTS).toFile(), Map.class);
        Map<?, ?> actual = Configs.json().readValue(run.resolve(RunDirectory.RESULTS).toFile(), Map.class);
        for (String key : List.of("status", "epochs", "bestEpoch", "testAccuracy", "testLoss", "confusion")) {
            assertEquals(expected.get(key), actual.get(key), point + ": results.json " + key);
        }
        Backend.init();
        for (String model : List.of(RunDirectory.BEST, RunDirectory.LAST)) {
            Model want = ModelFile.readNetwork(reference.resolve(model));
            Model got = ModelFile.readNetwork(run.resolve(model));
            assertEquals(want.params(), got.params(), point + ": " + model + " parameters");
            assertEquals(ModelFile.load(reference.resolve(model), false).state().bestEpoch(),
                    ModelFile.load(run.resolve(model), false).state().bestEpoch(), point + ": " + model + " state");
        }
        List<String> log = Files.readAllLines(run.resolve(RunDirectory.LOG));
        for (int epoch = 1; epoch <= 3; epoch++) {
            String prefix = " epoch " + epoch + "/3:";
            assertEquals(1, log.stream().filter(l -> l.contains(prefix)).count(), point + ": train.log has epoch "
                    + epoch + " once: " + log);
        }
        try (Stream<Path> files = Files.list(run)) {
            List<String> stray = files.map(p -> p.getFileName().toString())
                    .filter(n -> n.endsWith(".part") || n.equals(RunDirectory.PENDING)).toList();
            assertTrue(stray.isEmpty(), point + ": left behind " + stray);
        }
        assertFalse(Files.exists(run.resolve(RunDirectory.PENDING)));
    }

    /** metrics.csv without its two time columns (seconds, images/s), which differ between any two runs. */
    private static List<String> withoutTimes(List<String> lines) {
        return lines.stream().map(l -> String.join(",", Arrays.copyOf(l.split(","), 5))).toList();
    }
}
