package org.zoo4j.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.zoo4j.sweep.SweepStore;

/**
 * The cluster tier: a sweep whose only worker is killed while a trial runs on it (after the trial's first epoch was
 * reported, none complete) and started again a few seconds later. Spark runs the lost tasks again on the new worker,
 * and the sweep ends with every trial complete and nothing failed.
 */
@Tag("cluster")
class SweepWorkerLossTest {
    @TempDir
    Path dir;

    @Test
    void aTrialOnALostWorkerIsRetriedAndTheSweepCompletes() throws Exception {
        Path file = dir.resolve("lost.yaml");
        Files.writeString(file, """
                name: lost
                recipe: training/lenet5-fashion-mnist.yaml
                set: {data.subset: 12000, epochs: 3, data.batchSize: 32, data.download: false}
                space:
                  overrides.updater.learningRate: {choice: [0.003, 0.002]}
                budget: {maxTrials: 2}
                strategy: {type: grid}
                """);
        Path root = dir.resolve("sweeps");
        Path store = root.resolve("lost");
        try (StandaloneCluster cluster = StandaloneCluster.start(dir)) {
            int[] code = new int[1];
            CompletableFuture<String> sweep = CompletableFuture.supplyAsync(() -> StandaloneCluster.run(code, "sweep",
                    file.toString(), "--dir", root.toString(), "--spark", cluster.master()));
            // The kill comes once some trial has reported its first epoch
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(6);
            int running = -1;
            while (running < 0 && !sweep.isDone() && System.nanoTime() < deadline) {
                Thread.sleep(100);
                if (Files.exists(store.resolve("sweep.db"))) {
                    try {
                        Map<Integer, Map<Integer, Double>> reported = SweepStore.openReadOnly(store).intermediate();
                        for (SweepStore.Trial t : SweepStore.openReadOnly(store).trials()) {
                            if (t.state() == SweepStore.State.RUNNING && reported.containsKey(t.number())) {
                                running = t.number();
                            }
                        }
                    } catch (IOException e) {
                        // the driver is still creating the store's tables
                    }
                }
            }
            assertFalse(sweep.isDone(), "the sweep was still running at the kill: "
                    + (sweep.isDone() ? sweep.get() : "") + "\nworker log:\n" + cluster.workerLog());
            assertTrue(running >= 0, "a trial reported an epoch within 6 minutes\nworker log:\n" + cluster.workerLog());
            // With none complete at the kill, the completions below are the restarted worker's work
            List<SweepStore.Trial> atKill = SweepStore.openReadOnly(store).trials();
            cluster.killWorker();
            assertTrue(atKill.stream().noneMatch(t -> t.state() == SweepStore.State.COMPLETE), atKill.toString());
            Thread.sleep(5_000);
            cluster.startWorker();

            String log = sweep.get(8, TimeUnit.MINUTES);
            assertEquals(0, code[0], log + "\nworker log:\n" + cluster.workerLog());
            List<SweepStore.Trial> trials = SweepStore.open(store).trials();
            assertEquals(2, trials.size(), trials.toString());
            for (SweepStore.Trial t : trials) {
                assertEquals(SweepStore.State.COMPLETE, t.state(), t.toString());
                assertEquals(3, t.epochs(), t.toString());
            }
        }
    }
}
