package org.zoo4j.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
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
}
