package org.zoo4j.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.zoo4j.cli.Main;
import org.zoo4j.sweep.SweepStore;

/** {@code ./zoo4j sweep FILE --spark local[2]}: three tiny LeNet-5 trials as Spark tasks, all recorded complete. */
@Tag("spark")
class SparkSweepTest {
    @TempDir
    Path dir;

    @Test
    void threeTrialsOnLocal2Complete() throws Exception {
        Path file = dir.resolve("tiny.yaml");
        Files.writeString(file, """
                name: tiny
                recipe: training/lenet5-fashion-mnist.yaml
                set: {data.subset: 300, epochs: 1, data.batchSize: 32, data.download: false}
                space:
                  overrides.updater.learningRate: {choice: [0.003, 0.002, 0.001]}
                budget: {maxTrials: 3}
                strategy: {type: grid}
                """);
        Path root = dir.resolve("sweeps");
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        PrintStream saved = System.out;
        int code;
        try {
            System.setOut(new PrintStream(console, true, StandardCharsets.UTF_8));
            code = Main.run("sweep", file.toString(), "--dir", root.toString(), "--spark", "local[2]");
        } finally {
            System.setOut(saved);
        }
        String log = console.toString(StandardCharsets.UTF_8);
        System.out.println(log);
        assertEquals(0, code, log);
        assertTrue(log.contains("trials as Spark tasks on local[2], up to 2 at once"), log);
        List<SweepStore.Trial> trials = SweepStore.open(root.resolve("tiny")).trials();
        assertEquals(3, trials.size(), trials.toString());
        for (SweepStore.Trial t : trials) {
            assertEquals(SweepStore.State.COMPLETE, t.state(), t.toString());
            assertTrue(t.value() > 0.2, "learns: " + t);
        }
        for (String f : List.of("report.html", "leaderboard.txt", "best-recipe.yaml")) {
            assertTrue(Files.size(root.resolve("tiny").resolve(f)) > 0, f);
        }
    }
    /**
     * A sweep on local[2] killed (SIGKILL, the whole JVM) once its first trial is complete, then resumed: every trial
     * ends complete, and no trial that was complete before the kill is run again (same value, same attempt count).
     */
    @Test
    void aKilledSweepOnLocal2ResumesWithNoCompletedTrialLostOrRunTwice() throws Exception {
        Path file = dir.resolve("killed.yaml");
        Files.writeString(file, """
                name: killed
                recipe: training/lenet5-fashion-mnist.yaml
                set: {data.subset: 600, epochs: 2, data.batchSize: 32, data.download: false}
                space:
                  overrides.updater.learningRate: {choice: [0.004, 0.003, 0.002, 0.001]}
                budget: {maxTrials: 4}
                strategy: {type: grid}
                """);
        Path root = dir.resolve("sweeps");
        Path store = root.resolve("killed");
        List<String> command = StandaloneCluster.java("2g", String.join(File.pathSeparator,
                SparkClusters.classpathEntries()));
        command.addAll(List.of(Main.class.getName(), "sweep", file.toString(), "--dir", root.toString(), "--spark",
                "local[2]"));
        Path log = dir.resolve("first.log");
        Process first = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        Map<Integer, SweepStore.Trial> before = new HashMap<>();
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
        try {
            while (before.isEmpty() && first.isAlive() && System.nanoTime() < deadline) {
                Thread.sleep(200);
                if (Files.exists(store.resolve("sweep.db"))) {
                    for (SweepStore.Trial t : SweepStore.openReadOnly(store).trials()) {
                        if (t.state() == SweepStore.State.COMPLETE) {
                            before.put(t.number(), t);
                        }
                    }
                }
            }
            assertTrue(first.isAlive(), "killed before the sweep ended: " + Files.readString(log));
        } finally {
            first.descendants().forEach(ProcessHandle::destroyForcibly);
            first.destroyForcibly();
            first.waitFor(30, TimeUnit.SECONDS);
        }
        assertFalse(before.isEmpty(), "a trial completed before the kill: " + Files.readString(log));
        List<SweepStore.Trial> atKill = SweepStore.openReadOnly(store).trials();
        // Before the end: fewer than the budget's 4 trials complete (the others running, or not yet claimed where the
        // kill fell between trials)
        assertTrue(atKill.stream().filter(t -> t.state() == SweepStore.State.COMPLETE).count() < 4,
                "the kill came before the end: " + atKill);

        int code = Main.run("sweep", "--resume", store.toString(), "--spark", "local[2]");
        assertEquals(0, code, Files.readString(log));
        List<SweepStore.Trial> after = SweepStore.open(store).trials();
        assertEquals(4, after.size(), after.toString());
        for (SweepStore.Trial t : after) {
            assertEquals(SweepStore.State.COMPLETE, t.state(), t.toString());
            SweepStore.Trial old = before.get(t.number());
            if (old != null) {
                assertEquals(old.value(), t.value(), "not run again: " + t);
                assertEquals(old.attempts(), t.attempts(), "not run again: " + t);
            }
        }
    }
}
