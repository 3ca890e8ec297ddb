package org.zoo4j.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.zoo4j.base.AtomicFiles;
import org.zoo4j.base.ConfigException;
import org.zoo4j.modelfile.EpochMetrics;
import org.zoo4j.recipe.TrainingRecipe;
import org.zoo4j.training.Trainer;
import org.zoo4j.training.TrainingHooks;

/**
 * Measurements of whole training runs with zoo4j's {@link Trainer} on Fashion-MNIST: the loop's speed
 * ({@link BenchMode#LOOP}), with a bare fit timed after each epoch, and memory epoch by epoch. Each run lives in a temporary directory under {@code workDir}.
 */
public final class RunBenchmarks {
    private RunBenchmarks() {
    }

    /**
     * zoo4j's training loop: a run over {@code plan.iterations() * batch} images per epoch, untimed warm-up epochs (at
     * least one, and enough for {@code plan.warmupSeconds()} at {@code expectedImagesPerSecond}, as the other modes warm
     * up), then {@code plan.repeats()} timed epochs (the images/s of its metrics: validation and checkpoints excluded).
     *
     * <p>Returns that ({@link BenchMode#LOOP}) and {@value #PAIRED_FIT}: after each timed epoch, DL4J's bare fit on the
     * same network over the same number of the pipeline's batches held in memory (the first epoch's), timed as
     * {@link Measurements#fit} times it. Each epoch and the fit that follows it run seconds apart, so the loop's cost
     * over the bare fit can be read pair by pair, apart from the machine's drift over a process's minutes.
     */
    public static List<Result> loop(BenchNetwork network, int batch, Plan plan, double expectedImagesPerSecond,
                                    Path workDir) throws IOException {
        if (!network.realData()) {
            throw new ConfigException(network.name() + ": the loop mode reads Fashion-MNIST; this network is "
                    + "benchmarked on random images only (fit, infer)");
        }
        int images = plan.iterations() * batch;
        int warmupEpochs = (int) Math.max(1, Math.ceil(plan.warmupSeconds() * expectedImagesPerSecond / images));
        TrainingRecipe recipe = recipe(network, batch, images, warmupEpochs + plan.repeats());
        Path runDir = Files.createTempDirectory(workDir, "bench-" + network.name() + "-");
        List<DataSet> held = new ArrayList<>();
        double[] pairedFit = new double[plan.repeats()];
        Trainer[] running = new Trainer[1];
        TrainingHooks hooks = TrainingHooks.NONE.withBatchFilter(ds -> {
            if (held.size() < plan.iterations()) {
                held.add(ds); // the pipeline's own arrays: DL4J's fit reads them and leaves them as they are
            }
            return ds;
        }).withOnEpoch((m, state) -> {
            if (m.epoch() > warmupEpochs) {
                pairedFit[m.epoch() - warmupEpochs - 1] = bareFit(running[0].net(), held, batch);
            }
            return null;
        });
        try (Trainer trainer = Trainer.start(recipe, runDir, quiet(), hooks)) {
            running[0] = trainer;
            trainer.run();
            double[] ips = trainer.state().history().stream().skip(warmupEpochs)
                    .mapToDouble(EpochMetrics::imagesPerSecond).toArray();
            trainer.net().close(); // as Measurements' modes do: the next mode's peak is its own network's
            return List.of(Measurements.result(network, BenchMode.LOOP.toString(), batch, ips),
                    Measurements.result(network, PAIRED_FIT, batch, pairedFit));
        } finally {
            AtomicFiles.deleteTree(runDir);
        }
    }

    /** The mode name of the bare fit timed after each of the loop mode's epochs. */
    public static final String PAIRED_FIT = "loop-fit";

    private static double bareFit(ComputationGraph net, List<DataSet> batches, int batch) {
        long start = System.nanoTime();
        for (DataSet ds : batches) {
            net.fit(ds);
        }
        Nd4j.getExecutioner().commit(); // on CUDA: wait for the queued kernels (a no-op on the CPU)
        return (double) batches.size() * batch / ((System.nanoTime() - start) / 1e9);
    }

    /** Resident and heap memory at the end of each epoch of a training run (heap after a GC), to show growth. */
    public record MemoryTrace(String network, int batch, long[] rssBytes, long[] heapBytes) {
        /** Growth from the end of epoch 2 (warm: caches, workspaces and JIT settled) to the last epoch. */
        public long rssGrowth() {
            return rssBytes[rssBytes.length - 1] - rssBytes[Math.min(1, rssBytes.length - 1)];
        }
    }

    /**
     * Trains {@code network} with zoo4j's loop for {@code epochs} epochs of {@code images} Fashion-MNIST images and
     * reads this process's resident set and heap after each: a leak shows as growth epoch after epoch.
     */
    public static MemoryTrace memory(BenchNetwork network, int batch, int epochs, int images, Path workDir)
            throws IOException {
        long[] rss = new long[epochs];
        long[] heap = new long[epochs];
        TrainingHooks measure = TrainingHooks.NONE.withOnEpoch((m, state) -> {
            System.gc();
            rss[m.epoch() - 1] = ProcessMemory.rss();
            heap[m.epoch() - 1] = ProcessMemory.heap();
            return null;
        });
        Path runDir = Files.createTempDirectory(workDir, "memory-" + network.name() + "-");
        try (Trainer trainer = Trainer.start(recipe(network, batch, images, epochs), runDir, quiet(), measure)) {
            trainer.run();
        } finally {
            AtomicFiles.deleteTree(runDir);
        }
        return new MemoryTrace(network.name(), batch, rss, heap);
    }

    private static TrainingRecipe recipe(BenchNetwork network, int batch, int images, int epochs) {
        return new TrainingRecipe(network.model(), network.overrides(), BenchData.pipeline(batch, images), epochs,
                null, 0, 0, 0, null, null, 1, null);
    }

    private static PrintStream quiet() {
        return new PrintStream(PrintStream.nullOutputStream());
    }
}
