package org.zoo4j.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.zoo4j.base.Checksums;

/**
 * The cluster tier: the only worker of a standalone cluster killed in the middle of a run's second epoch. The run
 * stops with a user error (exit 2) that says the cluster lost its executors and how to continue, the checkpoint after
 * epoch 1 is kept unchanged, and once a worker is back {@code --resume} finishes the run on the cluster.
 */
@Tag("cluster")
class WorkerLossTest {
    @TempDir
    Path dir;

    @Test
    void aKilledWorkerStopsTheRunWithItsCheckpointKeptAndResumeFinishesIt() throws Exception {
        Path run = dir.resolve("run");
        Path last = run.resolve("last.zip");
        Path metrics = run.resolve("metrics.csv");
        try (StandaloneCluster cluster = StandaloneCluster.start(dir)) {
            int[] code = new int[1];
            CompletableFuture<String> first = CompletableFuture.supplyAsync(() -> StandaloneCluster.run(code, "train",
                    "--offline", "--subset", "12000", "--epochs", "3", "--batch-size", "32", "--spark",
                    cluster.master(), "--set", "spark.noExecutorTimeout=15", "--out", run.toString()));
            // Epoch 1's files are one commit: metrics.csv has its line once last.zip is in place. The worker is
            // killed as soon as that is seen; an epoch of 10,800 images takes seconds, so the kill lands in epoch 2.
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(6);
            while (!(Files.isRegularFile(metrics) && Files.readAllLines(metrics).size() >= 2) && !first.isDone()
                    && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertTrue(!first.isDone() && Files.isRegularFile(last), "epoch 1 finished and the run goes on: "
                    + (first.isDone() ? first.get() : "timed out") + "\nworker log:\n" + cluster.workerLog());
            String before = Checksums.sha256(last);
            cluster.killWorker();

            String log = first.get(5, TimeUnit.MINUTES);
            assertEquals(2, code[0], "a lost cluster is the user's to fix, exit 2: " + log);
            String trainLog = Files.readString(run.resolve("train.log")); // the error itself goes to stderr
            assertTrue(trainLog.contains("had no executor for 15 s"), trainLog);
            assertTrue(trainLog.contains("the checkpoint after epoch 1 is kept: continue with"), trainLog);
            assertEquals(before, Checksums.sha256(last), "the checkpoint after epoch 1 is unchanged");
            assertEquals(2, Files.readAllLines(metrics).size(), "metrics.csv: the header and epoch 1");

            cluster.startWorker();
            String resumed = StandaloneCluster.run(code, "train", "--resume", run.toString());
            assertEquals(0, code[0], resumed + "\nworker log:\n" + cluster.workerLog());
            List<String> lines = Files.readAllLines(metrics);
            assertEquals(4, lines.size(), "epochs 2 and 3 after the resume: " + lines);
            assertTrue(Files.readString(run.resolve("train.log")).contains("resuming"));
        }
    }
}
