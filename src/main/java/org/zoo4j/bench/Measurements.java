package org.zoo4j.bench;

import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.bytedeco.javacpp.Pointer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ops.executioner.OpExecutioner;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.profiler.OpProfiler;
import org.zoo4j.base.InputShape;
import org.zoo4j.runtime.ConvolutionProfile;
import org.zoo4j.runtime.ConvolutionRoutes;
import org.zoo4j.runtime.InferenceCopy;
import org.zoo4j.runtime.LayerHelpers;

/**
 * The benchmark's measurements on batches held in memory: DL4J's bare fit ({@link BenchMode#FIT}), inference
 * ({@link BenchMode#INFER}), fit step by step ({@link BenchMode#STEPS}), zoo4j's layer helpers against DL4J's in one
 * process ({@link BenchMode#HELPERS}), the step's native operations ({@link BenchMode#OPS}) and the convolution
 * helper's two backward routes ({@link BenchMode#ROUTES}). Each warms up by the {@link Plan} first. Training networks
 * get zoo4j's layer helpers unless {@link LayerHelpers#SWITCH} is false, which gives raw DL4J. Fit, inference, steps
 * (and the loop, {@link RunBenchmarks}) close their network when done (its parameters, gradients and updater state),
 * so that the peak resident memory reported after a mode is one network's, not that of every network the process
 * built before it.
 */
public final class Measurements {
    /** Batches held in memory at most (about 60 MB for resnet20's 128 x 1 x 32 x 32). */
    private static final int MAX_DISTINCT_BATCHES = 120;

    private Measurements() {
    }

    /** Bare {@code fit}, every step on a batch not seen before, as in an epoch (repeating a few would memorise them). */
    public static Result fit(BenchNetwork network, int batch, Plan plan) {
        ComputationGraph net = training(network);
        try {
            FitRuns runs = new FitRuns(net, network, batch, plan);
            runs.warmUp();
            for (int r = 0; r < plan.repeats(); r++) {
                runs.timedRepeat();
            }
            return runs.result();
        } finally {
            net.close();
        }
    }

    /**
     * Bare {@code fit} on a given network, warmed up by the plan and then timed a repeat at a time: on its own network
     * ({@link #fit}), or on the network of zoo4j's loop between its epochs ({@link RunBenchmarks#loopAndFit}).
     */
    static final class FitRuns {
        private final ComputationGraph net;
        private final BenchNetwork network;
        private final int batch;
        private final Plan plan;
        private final BatchCycle batches;
        private final double[] ips;
        private int done;
        /** The first half's time of a run begun by {@link #firstHalf}, or -1. */
        private long halfNanos = -1;

        FitRuns(ComputationGraph net, BenchNetwork network, int batch, Plan plan) {
            this.net = net;
            this.network = network;
            this.batch = batch;
            this.plan = plan;
            this.batches = BatchCycle.of(network, batch, plan.warmup() + plan.steps());
            this.ips = new double[plan.repeats()];
        }

        void warmUp() {
            Measurements.warmUp(plan, () -> net.fit(batches.next()));
        }

        /** One timed run of the plan's iterations; no more than the plan's repeats. */
        void timedRepeat() {
            firstHalf();
            secondHalf();
        }

        /**
         * The first half (rounded down) of the next timed run's iterations; {@link #secondHalf} completes the run, its
         * figure the images/s of both halves together. Split so that a run can bracket another measurement: its time
         * then centres on that measurement's, and a drift in the machine's speed over both (the JIT compiler's work
         * thinning out over the first minutes) weighs on both alike.
         */
        void firstHalf() {
            if (done == ips.length) {
                throw new IllegalStateException("all " + ips.length + " timed runs are done");
            }
            if (halfNanos >= 0) {
                throw new IllegalStateException("run " + (done + 1) + " was begun already");
            }
            halfNanos = timedSteps(plan.iterations() / 2);
        }

        /** The rest of the run {@link #firstHalf} began. */
        void secondHalf() {
            if (halfNanos < 0) {
                throw new IllegalStateException("no timed run was begun");
            }
            long nanos = halfNanos + timedSteps(plan.iterations() - plan.iterations() / 2);
            halfNanos = -1;
            ips[done++] = (double) plan.iterations() * batch / (nanos / 1e9);
        }

        private long timedSteps(int steps) {
            long start = System.nanoTime();
            for (int i = 0; i < steps; i++) {
                net.fit(batches.next());
            }
            Nd4j.getExecutioner().commit(); // on CUDA: wait for the queued kernels (a no-op on the CPU)
            return System.nanoTime() - start;
        }

        /** The timed runs so far, as the fit mode's figure. */
        Result result() {
            return Measurements.result(network, BenchMode.FIT.toString(), batch, Arrays.copyOf(ips, done));
        }
    }

    /** Inference over batches in memory, on the network as zoo4j runs inference ({@link InferenceCopy}). */
    public static Result infer(BenchNetwork network, int batch, Plan plan) {
        ComputationGraph trained = network.build();
        // Helpers and the inference copy are both off for --raw-dl4j
        ComputationGraph net = InferenceCopy.forInference(trained);
        try {
            BatchCycle batches = BatchCycle.of(network, batch, Math.min(plan.iterations(), 10));
            warmUp(plan, () -> net.output(batches.next().getFeatures())[0].close());
            double[] ips = new double[plan.repeats()];
            for (int r = 0; r < plan.repeats(); r++) {
                long start = System.nanoTime();
                for (int i = 0; i < plan.iterations(); i++) {
                    net.output(batches.next().getFeatures())[0].close();
                }
                Nd4j.getExecutioner().commit(); // on CUDA: wait for the queued kernels (a no-op on the CPU)
                ips[r] = (double) plan.iterations() * batch / ((System.nanoTime() - start) / 1e9);
            }
            return result(network, BenchMode.INFER.toString(), batch, ips);
        } finally {
            if (net != trained) {
                net.close();
            }
            trained.close();
        }
    }

    /**
     * A {@link #steps} run: one images/s figure per step, and the JVM's garbage collections during the timed steps
     * (how many, and their pauses in milliseconds, all collectors together).
     */
    public record StepRun(Result result, long collections, long collectionMillis) {
    }

    /**
     * Bare {@code fit} timed step by step: one images/s figure per step, for the spread of step times
     * ({@link #spread}). An overall rate far below the median step's is time lost to stalls; the garbage collector's
     * pauses are one kind.
     */
    public static StepRun steps(BenchNetwork network, int batch, Plan plan) {
        ComputationGraph net = training(network);
        try {
            BatchCycle batches = BatchCycle.of(network, batch, plan.warmup() + plan.steps());
            warmUp(plan, () -> net.fit(batches.next()));
            double[] ips = new double[plan.steps()];
            long[] before = collections();
            for (int i = 0; i < ips.length; i++) {
                ips[i] = timedStep(net, batches.next(), batch);
            }
            long[] after = collections();
            return new StepRun(result(network, BenchMode.STEPS.toString(), batch, ips), after[0] - before[0],
                    after[1] - before[1]);
        } finally {
            net.close();
        }
    }

    /** The JVM's garbage collections so far, all collectors together: how many, and their time in milliseconds. */
    private static long[] collections() {
        long count = 0;
        long millis = 0;
        for (GarbageCollectorMXBean collector : ManagementFactory.getGarbageCollectorMXBeans()) {
            count += Math.max(0, collector.getCollectionCount()); // -1: not known for this collector
            millis += Math.max(0, collector.getCollectionTime());
        }
        return new long[] {count, millis};
    }

    /**
     * How the step times of a {@link #steps} result spread: median, 90th and 99th percentile and longest step (ms),
     * how many steps took over 3x the median, the share of all time they took beyond the median, and the rate over
     * all steps (images/s).
     */
    public record StepSpread(double medianMs, double p90Ms, double p99Ms, double maxMs, int slowSteps,
                             double slowShare, double overallImagesPerSecond) {
    }

    public static StepSpread spread(Result steps) {
        double[] ms = Arrays.stream(steps.imagesPerSecond()).map(ips -> 1000.0 * steps.batch() / ips).toArray();
        double total = Arrays.stream(ms).sum();
        double[] sorted = ms.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        double median = sorted[n / 2];
        int slow = 0;
        double beyond = 0;
        for (double t : ms) {
            if (t > 3 * median) {
                slow++;
                beyond += t - median;
            }
        }
        double p90 = sorted[Math.min(n - 1, (int) (0.9 * n))];
        double p99 = sorted[Math.min(n - 1, (int) (0.99 * n))];
        return new StepSpread(median, p90, p99, sorted[n - 1], slow, beyond / total, 1000.0 * n * steps.batch() / total);
    }

    /**
     * zoo4j's layer helpers ({@link LayerHelpers}) against DL4J's own on the same network in one process: two copies
     * with the same weights trained step by step in turn (the order alternating), so that both see the same machine
     * state; the steady spread between processes on a small shared machine (up to 20%) would swamp a 5% change.
     * Returns per-step images/s of DL4J's helpers (mode {@code ab-dl4j}) and of zoo4j's ({@code ab-zoo4j}), steps
     * paired by index.
     */
    public static List<Result> helpersAb(BenchNetwork network, int batch, Plan plan) {
        if (!LayerHelpers.enabled()) {
            throw new IllegalStateException("the helpers A/B needs zoo4j's layer helpers on (" + LayerHelpers.SWITCH
                    + " is false)");
        }
        ComputationGraph dl4j = network.build();
        ComputationGraph zoo4j = dl4j.clone();
        if (LayerHelpers.installForTraining(zoo4j) == 0) {
            throw new IllegalStateException(network.name() + ": no layer took zoo4j's helpers (DL4J's oneDNN helpers "
                    + "are not attached: CPU backend with helpers on is needed)");
        }
        BatchCycle batches = BatchCycle.of(network, batch, plan.steps());
        warmUp(plan, () -> {
            DataSet ds = batches.next();
            dl4j.fit(ds);
            zoo4j.fit(ds);
        });
        double[] dl4jIps = new double[plan.steps()];
        double[] zoo4jIps = new double[plan.steps()];
        for (int i = 0; i < plan.steps(); i++) {
            DataSet ds = batches.next();
            boolean dl4jFirst = i % 2 == 0;
            double first = timedStep(dl4jFirst ? dl4j : zoo4j, ds, batch);
            double second = timedStep(dl4jFirst ? zoo4j : dl4j, ds, batch);
            dl4jIps[i] = dl4jFirst ? first : second;
            zoo4jIps[i] = dl4jFirst ? second : first;
        }
        return List.of(result(network, "ab-dl4j", batch, dl4jIps), result(network, "ab-zoo4j", batch, zoo4jIps));
    }

    /** Median and quartiles of the per-step ratio zoo4j / DL4J of a {@link #helpersAb} pair. */
    public static double[] speedUp(Result dl4j, Result zoo4j) {
        double[] ratios = new double[dl4j.imagesPerSecond().length];
        for (int i = 0; i < ratios.length; i++) {
            ratios[i] = zoo4j.imagesPerSecond()[i] / dl4j.imagesPerSecond()[i];
        }
        Arrays.sort(ratios);
        int n = ratios.length;
        return new double[] {ratios[n / 2], ratios[n / 4], ratios[(3 * n) / 4]};
    }

    /** One kind of native operation in a profiled training step: its calls and time per step. */
    public record OpTime(String op, double callsPerStep, double msPerStep) {
    }

    /**
     * Where a training step's time goes: ND4J's op profiler over {@code steps} steps of the bare fit, after warm-up
     * and after as many unprofiled steps timed alone. The profiler keeps only calls longer than {@code thresholdMs},
     * so the many small ones (per-channel vectors, scalars) are missing from {@code ops}. zoo4j's oneDNN convolution
     * runs outside ND4J's ops; its primitives are rows named "onednn PART" ({@link ConvolutionProfile}).
     */
    public record OpProfile(String network, int batch, int steps, double plainMsPerStep, double profiledMsPerStep,
                            double thresholdMs, List<OpTime> ops) {
    }

    /** Per-op times of the bare fit, as {@link OpProfile} describes. */
    public static OpProfile ops(BenchNetwork network, int batch, Plan plan) {
        ComputationGraph net = training(network);
        BatchCycle batches = BatchCycle.of(network, batch, plan.warmup() + 2 * plan.iterations());
        warmUp(plan, () -> net.fit(batches.next()));
        long start = System.nanoTime();
        for (int i = 0; i < plan.iterations(); i++) {
            net.fit(batches.next());
        }
        double plain = (System.nanoTime() - start) / 1e6 / plan.iterations();
        OpProfiler profiler = OpProfiler.getInstance();
        OpExecutioner executioner = Nd4j.getExecutioner();
        OpExecutioner.ProfilingMode before = executioner.getProfilingMode();
        profiler.reset();
        executioner.setProfilingMode(OpExecutioner.ProfilingMode.OPERATIONS);
        double profiled;
        String timings;
        ConvolutionProfile.Total[] convolution;
        ConvolutionProfile.start();
        try {
            start = System.nanoTime();
            for (int i = 0; i < plan.iterations(); i++) {
                net.fit(batches.next());
            }
            profiled = (System.nanoTime() - start) / 1e6 / plan.iterations();
            timings = profiler.getLongAggergator().asString();
        } finally {
            executioner.setProfilingMode(before);
            convolution = ConvolutionProfile.stop();
        }
        List<OpTime> ops = new ArrayList<>(parseOpTimes(timings, plan.iterations()));
        for (ConvolutionProfile.Total t : convolution) { // zoo4j's oneDNN convolution: outside ND4J's profiler
            ops.add(new OpTime("onednn " + t.part().name().toLowerCase(Locale.ROOT), (double) t.calls()
                    / plan.iterations(), t.nanos() / 1e6 / plan.iterations()));
        }
        ops.sort(Comparator.comparingDouble(OpTime::msPerStep).reversed());
        return new OpProfile(network.name(), batch, plan.iterations(), plain, profiled, profiler.getTHRESHOLD() / 1e6,
                ops);
    }

    /** ND4J's per-op lines ("CustomOp conv2d (id)  >>>  420 calls; Min: ... Average: 5553078 ns; ..."), by time. */
    public static List<OpTime> parseOpTimes(String text, int steps) {
        Pattern line = Pattern.compile("^\\s*\\w+ (\\S+) \\(.*?\\)\\s+>>>\\s+(\\d+) calls;.*?Average: (\\d+) ns;",
                Pattern.MULTILINE);
        List<OpTime> ops = new ArrayList<>();
        Matcher m = line.matcher(text);
        while (m.find()) {
            long calls = Long.parseLong(m.group(2));
            double totalMs = calls * Long.parseLong(m.group(3)) / 1e6;
            ops.add(new OpTime(m.group(1), (double) calls / steps, totalMs / steps));
        }
        ops.sort((a, b) -> Double.compare(b.msPerStep(), a.msPerStep()));
        return ops;
    }

    /** The two backward routes of {@code network}'s 3x3 stride-1 convolutions at {@code batch}, timed here. */
    public static List<ConvolutionRoutes.Route> convolutionRoutes(BenchNetwork network, int batch) {
        InputShape shape = network.config().input();
        Nd4j.getRandom().setSeed(12345);
        return ConvolutionRoutes.measure(network.build(), Nd4j.rand(DataType.FLOAT, batch, shape.channels(),
                shape.height(), shape.width()));
    }

    /** The network as zoo4j trains it: its layer helpers installed, unless they are switched off. */
    private static ComputationGraph training(BenchNetwork network) {
        ComputationGraph net = network.build();
        LayerHelpers.installForTraining(net);
        return net;
    }

    /** Runs {@code step} untimed until the plan's warm-up is over. */
    private static void warmUp(Plan plan, Runnable step) {
        long start = System.nanoTime();
        for (int i = 0; plan.warming(i, start); i++) {
            step.run();
        }
    }

    private static double timedStep(ComputationGraph net, DataSet ds, int batch) {
        long start = System.nanoTime();
        net.fit(ds);
        return batch / ((System.nanoTime() - start) / 1e9);
    }

    /** A figure of this process: with its thread count and peak memory so far. */
    static Result result(BenchNetwork network, String mode, int batch, double[] ips) {
        return new Result(network.name(), mode, batch, Nd4j.getEnvironment().maxMasterThreads(), ips,
                ProcessMemory.peakHeap(), ProcessMemory.peakRss(), Pointer.totalBytes());
    }

    /** Batches of a network's input handed out in turn, at most {@value #MAX_DISTINCT_BATCHES} different ones. */
    private static final class BatchCycle {
        private final List<DataSet> batches;
        private int next;

        private BatchCycle(List<DataSet> batches) {
            this.batches = batches;
        }

        static BatchCycle of(BenchNetwork network, int batch, int wanted) {
            return new BatchCycle(BenchData.batches(network, batch, Math.min(wanted, MAX_DISTINCT_BATCHES)));
        }

        DataSet next() {
            return batches.get(next++ % batches.size());
        }
    }
}
