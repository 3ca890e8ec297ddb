package org.zoo4j.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.zoo4j.base.Configs;
import org.zoo4j.sweep.SweepStore;

/**
 * The cluster tier ({@code mvn -B -Pspark,cluster test}): a real standalone Spark master and worker
 * ({@link StandaloneCluster}), and zoo4j's driver in this JVM training LeNet-5 and running a small sweep through
 * them. It fails, never skips, where the cluster cannot start.
 */
@Tag("cluster")
class StandaloneClusterTest {
    @TempDir
    static Path dir;

    private static StandaloneCluster cluster;

    @BeforeAll
    static void startCluster() throws Exception {
        cluster = StandaloneCluster.start(dir);
    }

    @AfterAll
    static void stopCluster() throws InterruptedException {
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    void leNetTrainsOnTheStandaloneCluster() throws Exception {
        Path run = dir.resolve("run");
        int[] code = new int[1];
        String log = StandaloneCluster.run(code, "train", "--offline", "--subset", "1000", "--epochs", "1",
                "--batch-size", "32", "--spark", cluster.master(), "--out", run.toString());
        assertEquals(0, code[0], log + "\nworker log:\n" + cluster.workerLog());
        for (String f : List.of("recipe.yaml", "metrics.csv", "best.zip", "last.zip", "results.json", "train.log")) {
            assertTrue(Files.isRegularFile(run.resolve(f)), f);
        }
        JsonNode results = Configs.json().readTree(run.resolve("results.json").toFile());
        double accuracy = results.at("/testAccuracy").asDouble(Double.NaN);
        assertTrue(accuracy > 0.4, "learns on the cluster (chance is 0.10): " + accuracy);
        assertTrue(Files.readString(run.resolve("train.log")).contains("on " + cluster.master()),
                "trained on the cluster");
    }

    @Test
    void aSweepRunsItsTrialsOnTheStandaloneCluster() throws Exception {
        Path file = dir.resolve("tiny.yaml");
        Files.writeString(file, """
                name: tiny
                recipe: training/lenet5-fashion-mnist.yaml
                set: {data.subset: 300, epochs: 1, data.batchSize: 32, data.download: false}
                space:
                  overrides.updater.learningRate: {choice: [0.003, 0.002]}
                budget: {maxTrials: 2}
                strategy: {type: grid}
                """);
        Path root = dir.resolve("sweeps");
        int[] code = new int[1];
        String log = StandaloneCluster.run(code, "sweep", file.toString(), "--dir", root.toString(), "--spark", cluster.master());
        assertEquals(0, code[0], log + "\nworker log:\n" + cluster.workerLog());
        List<SweepStore.Trial> trials = SweepStore.open(root.resolve("tiny")).trials();
        assertEquals(2, trials.size(), trials.toString());
        for (SweepStore.Trial t : trials) {
            assertEquals(SweepStore.State.COMPLETE, t.state(), t.toString());
        }
    }
}
