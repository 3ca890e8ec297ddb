package org.zoo4j.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.zoo4j.base.AtomicFiles;
import org.zoo4j.base.ConfigException;
import org.zoo4j.modelfile.EpochMetrics;
import org.zoo4j.recipe.TrainingRecipe;
import org.zoo4j.training.Trainer;
import org.zoo4j.training.TrainingHooks;

/**
 * Measurements of whole training runs with zoo4j's {@link Trainer} on Fashion-MNIST: the loop's speed
 * ({@link BenchMode#LOOP}), alone or in turn with the bare fit on the loop's network ({@link #loopAndFit}), and memory
 * epoch by epoch. Each run lives in a temporary directory under {@code workDir}.
 */
public final class RunBenchmarks {
    private RunBenchmarks() {
    }

    /**
     * zoo4j's training loop: a run over {@code plan.iterations() * batch} images per epoch, untimed warm-up epochs (at
     * least one, and enough for {@code plan.warmupSeconds()} at {@code expectedImagesPerSecond}, as the other modes warm
     * up), then {@code plan.repeats()} timed epochs (the images/s of its metrics: validation and checkpoints excluded).
     */
    public static Result loop(BenchNetwork network, int batch, Plan plan, double expectedImagesPerSecond, Path workDir)
            throws IOException {
        return run(network, batch, plan, false, expectedImagesPerSecond, workDir).get(0);
    }

    /**
     * The loop ({@link #loop}) and DL4J's bare fit ({@link Measurements#fit}) in turn on one network, the loop's: the
     * fit warmed up by the plan after the loop's warm-up epochs, then one timed run of it for each timed epoch, of as
     * many steps as an epoch, half of its steps just before the epoch and half just after. Timed in turn in one
     * process, the two figures see the same state of the machine, which drifts between processes and over minutes;
     * apart, each would see its own. Bracketed, a run's time centres on its epoch's: a run after each epoch came later
     * than the epoch every time, in a process that speeds up as the JIT compiler's work thins out. Returns the fit's
     * figure, then the loop's.
     */
    public static List<Result> loopAndFit(BenchNetwork network, int batch, Plan plan, double expectedImagesPerSecond,
                                          Path workDir) throws IOException {
        return run(network, batch, plan, true, expectedImagesPerSecond, workDir);
    }

    private static List<Result> run(BenchNetwork network, int batch, Plan plan, boolean withFit,
                                    double expectedImagesPerSecond, Path workDir) throws IOException {
        if (!network.realData()) {
            throw new ConfigException(network.name() + ": the loop mode reads Fashion-MNIST; this network is "
                    + "benchmarked on random images only (fit, infer)");
        }
        int images = plan.iterations() * batch;
        int warmupEpochs = (int) Math.max(1, Math.ceil(plan.warmupSeconds() * expectedImagesPerSecond / images));
        TrainingRecipe recipe = recipe(network, batch, images, warmupEpochs + plan.repeats());
        Path runDir = Files.createTempDirectory(workDir, "bench-" + network.name() + "-");
        AtomicReference<Measurements.FitRuns> fit = new AtomicReference<>();
        AtomicReference<Trainer> running = new AtomicReference<>();
        TrainingHooks hooks = !withFit ? TrainingHooks.NONE : TrainingHooks.NONE.withOnEpoch((m, state) -> {
            int timedDone = state.epochsDone() - warmupEpochs;
            if (timedDone == 0) {
                fit.set(new Measurements.FitRuns(running.get().net(), network, batch, plan));
                fit.get().warmUp();
            } else if (timedDone > 0) {
                fit.get().secondHalf();
            }
            if (timedDone >= 0 && timedDone < plan.repeats()) {
                fit.get().firstHalf(); // each fit run brackets a timed epoch of the loop
            }
            return null;
        });
        try (Trainer trainer = Trainer.start(recipe, runDir, quiet(), hooks)) {
            running.set(trainer);
            trainer.run();
            double[] ips = trainer.state().history().stream().skip(warmupEpochs)
                    .mapToDouble(EpochMetrics::imagesPerSecond).toArray();
            trainer.net().close(); // as Measurements' modes do: the next mode's peak is its own network's
            Result loop = Measurements.result(network, BenchMode.LOOP.toString(), batch, ips);
            return fit.get() == null ? List.of(loop) : List.of(fit.get().result(), loop);
        } finally {
            AtomicFiles.deleteTree(runDir);
        }
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
