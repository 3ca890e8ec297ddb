package org.zoo4j.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.zoo4j.base.AtomicFiles;
import org.zoo4j.runtime.ConvolutionRoutes;
import org.zoo4j.runtime.InferenceCopy;
import org.zoo4j.runtime.LayerHelpers;

/**
 * Runs {@code ./zoo4j bench}: each network in each mode at each batch size, timed runs sized from a short probe, and
 * tells a {@link Report} what it measured as it goes.
 */
public final class BenchRunner {
    /** Fashion-MNIST's training images: the most one epoch of the loop mode can read. */
    private static final int FASHION_MNIST_TRAIN = 60_000;

    private BenchRunner() {
    }

    /**
     * What to measure.
     *
     * @param batches       training batch sizes; empty = each network's own
     * @param warmup        untimed iterations first, at least
     * @param warmupSeconds and untimed seconds first, at least (the loop mode warms up with whole epochs)
     * @param repeats       timed runs
     * @param iterations    batches per timed run; 0 = about 2 seconds of work per run, estimated from a probe
     * @param rawDl4j       measure with DL4J's own layer helpers throughout
     */
    public record Options(List<BenchNetwork> networks, List<BenchMode> modes, List<Integer> batches, int warmup,
                          double warmupSeconds, int repeats, int iterations, boolean rawDl4j) {
    }

    /** Hears each figure as it is measured. */
    public interface Report {
        /** A speed figure: fit, loop, infer, steps, or one side of helpers. */
        void row(Result result);

        /** zoo4j's helpers against DL4J's: the per-step speed-up's median and quartiles over {@code steps}. */
        void helpers(BenchNetwork network, double[] speedUp, int steps);

        void steps(BenchNetwork network, Measurements.StepRun steps, Measurements.StepSpread spread);

        void ops(Measurements.OpProfile profile);

        /** The convolution routes timed, or (empty) {@code why} there were none to time. */
        void routes(BenchNetwork network, List<ConvolutionRoutes.Route> routes, String why);

        void params(BenchNetwork network, long count);
    }

    /** Measures everything {@code options} asks for; returns the speed figures (for a CSV). */
    public static List<Result> run(Options options, Report report) throws IOException {
        if (options.rawDl4j()) {
            System.setProperty(LayerHelpers.SWITCH, "false");
            System.setProperty(InferenceCopy.SWITCH, "false");
        }
        List<Result> results = new ArrayList<>();
        Path work = Files.createTempDirectory("zoo4j-bench");
        try {
            for (BenchNetwork network : options.networks()) {
                for (BenchMode mode : options.modes()) {
                    if (mode == BenchMode.LOOP && !network.realData()) {
                        continue;
                    }
                    if (mode == BenchMode.PARAMS) {
                        report.params(network, network.build().numParams());
                        continue;
                    }
                    boolean paired = pairsFitWithLoop(options, network);
                    if (paired && mode == BenchMode.LOOP) {
                        continue; // timed with the fit, in turn
                    }
                    for (int batch : batchSizes(options, network, mode)) {
                        if (paired && mode == BenchMode.FIT) {
                            measureFitAndLoop(options, network, batch, work, results, report);
                        } else {
                            measure(options, network, mode, batch, work, results, report);
                        }
                    }
                }
            }
        } finally {
            AtomicFiles.deleteTree(work);
        }
        return results;
    }

    /**
     * Whether the fit and the loop are both asked for a network the loop can train: then they are timed in turn on one
     * network ({@link RunBenchmarks#loopAndFit}), for a fair figure of what the loop costs over the bare fit.
     */
    static boolean pairsFitWithLoop(Options options, BenchNetwork network) {
        return network.realData() && options.modes().contains(BenchMode.FIT)
                && options.modes().contains(BenchMode.LOOP);
    }

    private static void measureFitAndLoop(Options options, BenchNetwork network, int batch, Path work,
                                          List<Result> results, Report report) throws IOException {
        double probe = probeImagesPerSecond(network, BenchMode.FIT, batch);
        // The same number of steps in each timed run of both: a shorter run is more often spared the step that a
        // garbage collection or another process lengthens, and its median would be the faster for it.
        Plan plan = new Plan(options.warmup(), options.warmupSeconds(), options.repeats(),
                iterations(options, BenchMode.LOOP, probe, batch));
        for (Result r : RunBenchmarks.loopAndFit(network, batch, plan, probe, work)) {
            add(options.rawDl4j() ? r.withMode(r.mode() + "-raw") : r, results, report);
        }
    }

    private static void measure(Options options, BenchNetwork network, BenchMode mode, int batch, Path work,
                                List<Result> results, Report report) throws IOException {
        if (mode == BenchMode.ROUTES) {
            routes(network, batch, report);
            return;
        }
        double probe = probeImagesPerSecond(network, mode, batch);
        Plan plan = new Plan(options.warmup(), options.warmupSeconds(), options.repeats(), iterations(options, mode,
                probe, batch));
        switch (mode) {
            case HELPERS -> {
                List<Result> pair = Measurements.helpersAb(network, batch, plan);
                pair.forEach(r -> add(r, results, report));
                report.helpers(network, Measurements.speedUp(pair.get(0), pair.get(1)), plan.steps());
            }
            case OPS -> report.ops(Measurements.ops(network, batch, plan));
            case STEPS -> {
                Measurements.StepRun run = Measurements.steps(network, batch, plan);
                add(run.result(), results, report);
                report.steps(network, run, Measurements.spread(run.result()));
            }
            default -> {
                Result r = switch (mode) {
                    case FIT -> Measurements.fit(network, batch, plan);
                    case INFER -> Measurements.infer(network, batch, plan);
                    default -> RunBenchmarks.loop(network, batch, plan, probe, work);
                };
                add(options.rawDl4j() ? r.withMode(r.mode() + "-raw") : r, results, report);
            }
        }
    }

    /** Memory after each epoch of {@code epochs} epochs of {@code images} images, for each network on real data. */
    public static List<RunBenchmarks.MemoryTrace> memory(List<BenchNetwork> networks, List<Integer> batches,
                                                         int epochs, int images) throws IOException {
        List<RunBenchmarks.MemoryTrace> traces = new ArrayList<>();
        Path work = Files.createTempDirectory("zoo4j-bench");
        try {
            for (BenchNetwork network : networks) {
                if (network.realData()) {
                    int batch = batches.isEmpty() ? network.trainBatch().get(0) : batches.get(0);
                    traces.add(RunBenchmarks.memory(network, batch, epochs, images, work));
                }
            }
        } finally {
            AtomicFiles.deleteTree(work);
        }
        return traces;
    }

    private static void add(Result r, List<Result> results, Report report) {
        results.add(r);
        report.row(r);
    }

    private static List<Integer> batchSizes(Options options, BenchNetwork network, BenchMode mode) {
        if (mode == BenchMode.INFER) {
            return List.of(network.inferBatch());
        }
        return options.batches().isEmpty() ? network.trainBatch() : options.batches();
    }

    /**
     * Batches per timed run: as asked, else about two seconds of work (3 to 400, as the PyTorch peer sizes its runs);
     * the loop at least 30 an epoch, and no more than Fashion-MNIST's 60,000 training images an epoch.
     */
    private static int iterations(Options options, BenchMode mode, double probe, int batch) {
        if (options.iterations() > 0) {
            return options.iterations();
        }
        int n = (int) Math.max(3, Math.min(400, Math.round(2 * probe / batch)));
        // An epoch each: enough batches that starting an epoch (shuffle, first batch) is amortised.
        return mode == BenchMode.LOOP ? Math.min(Math.max(n, 30), FASHION_MNIST_TRAIN / batch) : n;
    }

    /**
     * Images/s of a short run after two seconds of warm-up: sizes the timed runs (about 2 s each) and the loop's
     * warm-up epochs. Sized from a cold run (the JIT compiler at work beside it), LeNet-5's runs came out under a
     * second, short enough that one collection's pause moved the figure.
     */
    private static double probeImagesPerSecond(BenchNetwork network, BenchMode mode, int batch) {
        Plan probe = new Plan(1, 2.0, 1, 2);
        return (mode == BenchMode.INFER ? Measurements.infer(network, batch, probe)
                : Measurements.fit(network, batch, probe)).median();
    }

    private static void routes(BenchNetwork network, int batch, Report report) {
        if (!ConvolutionRoutes.winogradCpu()) {
            report.routes(network, List.of(), "this CPU has no AVX-512 Winograd kernels (or an ISA cap is set); "
                    + "oneDNN's backward pass is direct already and the helper keeps it");
            return;
        }
        List<ConvolutionRoutes.Route> routes = Measurements.convolutionRoutes(network, batch);
        report.routes(network, routes, routes.isEmpty() ? "no 3x3 stride-1 NCHW convolutions with channel counts in "
                + "multiples of 16, so no layer where oneDNN would pick Winograd" : null);
    }
}
