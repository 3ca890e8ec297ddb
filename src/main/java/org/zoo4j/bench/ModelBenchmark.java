package org.zoo4j.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.zoo4j.data.DataConfig;
import org.zoo4j.data.DataPipeline;
import org.zoo4j.data.ImageBatchIterator;
import org.zoo4j.data.NormalizationMode;
import org.zoo4j.runtime.Backend;
import org.zoo4j.runtime.LayerHelpers;
import org.zoo4j.training.Trainer;
import org.zoo4j.training.TrainingRecipe;
import org.zoo4j.zoo.InputShape;
import org.zoo4j.zoo.NetworkConfig;

/**
 * Training and inference speed of the zoo's networks, measured three ways:
 * <ul>
 *   <li>{@code fit}: DL4J's bare {@code ComputationGraph.fit(DataSet)} over batches already in memory, the floor
 *       zoo4j's own loop is held to;</li>
 *   <li>{@code loop}: zoo4j's {@link Trainer} on the same images through the data pipeline, with its progress,
 *       NaN check and schedule (per-epoch checkpoints and validation are outside the timed part, as in
 *       {@code metrics.csv});</li>
 *   <li>{@code infer}: {@code ComputationGraph.output} over batches in memory.</li>
 * </ul>
 * Each figure is the median of several timed repeats after untimed warm-up, with the spread (min, max).
 */
public final class ModelBenchmark {
    private ModelBenchmark() {
    }

    /**
     * A network as benchmarked: a zoo model with the settings that make it the same network as the PyTorch peer's
     * ({@code shared/peers/torch_bench.py}: Adam at 1e-3, 1-channel 28x28 or zero-padded 32x32 Fashion-MNIST).
     *
     * @param name       the name in results, e.g. resnet20
     * @param model      the zoo model
     * @param overrides  settings of the model's preset config
     * @param trainBatch batch sizes for training
     * @param inferBatch batch size for inference
     * @param realData   whether Fashion-MNIST images feed it (else random images of its input shape)
     * @param peer       the PyTorch peer's name for the same network, or null where the peer has none
     */
    public record Network(String name, String model, Map<String, Object> overrides, List<Integer> trainBatch,
                          int inferBatch, boolean realData, String peer) {
        public NetworkConfig config() {
            return org.zoo4j.zoo.Zoo.get(model).config(withClasses(overrides));
        }
    }

    private static final Map<String, Object> ADAM = Map.of("name", "adam", "learningRate", 0.001);
    /** Batches held in memory for the fit mode at most (about 60 MB for resnet20's 128 x 1 x 32 x 32). */
    private static final int MAX_DISTINCT_BATCHES = 120;

    /** The benchmarked networks, as the issue names them. */
    public static final List<Network> NETWORKS = List.of(
            new Network("lenet5", "lenet5", Map.of("input", "1,28,28", "updater", ADAM), List.of(64, 128), 256, true,
                    "lenet"),
            new Network("alexnet-small", "alexnet-small", Map.of("input", "1,32,32", "updater", ADAM), List.of(64),
                    256, true, null),
            new Network("vgg16-bn", "vgg16-bn", Map.of("input", "1,32,32", "classifier", List.of(), "convBias", false,
                    "updater", ADAM), List.of(64), 256, true, "vgg16"),
            new Network("resnet20", "resnet20", Map.of("input", "1,32,32", "shortcut", "B", "updater", ADAM),
                    List.of(128), 256, true, "resnet20"),
            new Network("resnet18-224", "resnet18", Map.of("input", "3,224,224", "updater", ADAM), List.of(8), 8, false,
                    null));

    public static Network network(String name) {
        return NETWORKS.stream().filter(n -> n.name().equals(name)).findFirst().orElseThrow(
                () -> new IllegalArgumentException("unknown benchmark network '" + name + "'; one of "
                        + NETWORKS.stream().map(Network::name).toList()));
    }

    /**
     * How much to measure: untimed warm-up of at least {@code warmup} iterations and {@code warmupSeconds} seconds
     * (so that the JIT compiler, which competes with the compute threads for the cores, has settled), then
     * {@code repeats} timed runs of {@code iterations}.
     */
    public record Plan(int warmup, double warmupSeconds, int repeats, int iterations) {
        public Plan {
            if (warmup < 0 || warmupSeconds < 0 || repeats < 1 || iterations < 1) {
                throw new IllegalArgumentException("benchmark plan: warmup >= 0, warm-up seconds >= 0, repeats >= 1, "
                        + "iterations >= 1; got " + warmup + ", " + warmupSeconds + ", " + repeats + ", " + iterations);
            }
        }

        /** Whether warm-up goes on after {@code done} iterations started at {@code startNanos}. */
        boolean warming(int done, long startNanos) {
            return done < warmup || (System.nanoTime() - startNanos) / 1e9 < warmupSeconds;
        }
    }

    /** One measured figure: images per second over the repeats, and this process's peak memory so far. */
    public record Result(String network, String mode, int batch, int threads, double[] imagesPerSecond,
                         long peakHeapBytes, long peakRssBytes, long offHeapBytes) {
        public double median() {
            double[] s = imagesPerSecond.clone();
            Arrays.sort(s);
            return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
        }

        public double min() {
            return Arrays.stream(imagesPerSecond).min().orElse(Double.NaN);
        }

        public double max() {
            return Arrays.stream(imagesPerSecond).max().orElse(Double.NaN);
        }

        /** The same figures under another mode name (e.g. fit-raw for raw DL4J's fit). */
        public Result withMode(String name) {
            return new Result(network, name, batch, threads, imagesPerSecond, peakHeapBytes, peakRssBytes, offHeapBytes);
        }

        public static final String CSV_HEADER = "framework,network,mode,batch,threads,repeats,median_ips,min_ips,max_ips,"
                + "peak_heap_mb,peak_rss_mb,offheap_mb";

        public String csv() {
            return String.format(Locale.ROOT, "zoo4j,%s,%s,%d,%d,%d,%.1f,%.1f,%.1f,%.0f,%.0f,%.0f", network, mode, batch,
                    threads, imagesPerSecond.length, median(), min(), max(), peakHeapBytes / 1048576.0,
                    peakRssBytes / 1048576.0, offHeapBytes / 1048576.0);
        }
    }

    /**
     * Bare {@code fit} over batches in memory, on the network as zoo4j trains it (its layer helpers installed unless
     * {@link LayerHelpers#SWITCH} is false, which gives raw DL4J).
     */
    public static Result fit(Network network, int batch, Plan plan) {
        ComputationGraph net = build(network);
        LayerHelpers.install(net);
        // Every step on a batch not seen before, as in an epoch (cycling a few batches would let it memorise them).
        List<DataSet> batches = batches(network, batch, Math.min(plan.warmup() + plan.repeats() * plan.iterations(),
                MAX_DISTINCT_BATCHES));
        double[] ips = new double[plan.repeats()];
        int next = 0;
        long warmupStart = System.nanoTime();
        for (int i = 0; plan.warming(i, warmupStart); i++) {
            net.fit(batches.get(next++ % batches.size()));
        }
        for (int r = 0; r < plan.repeats(); r++) {
            long start = System.nanoTime();
            for (int i = 0; i < plan.iterations(); i++) {
                net.fit(batches.get(next++ % batches.size()));
            }
            ips[r] = (double) plan.iterations() * batch / ((System.nanoTime() - start) / 1e9);
        }
        return result(network, "fit", batch, ips);
    }

    /** One kind of native operation in a profiled training step: its calls and time per step. */
    public record OpTime(String op, double callsPerStep, double msPerStep) {
    }

    /**
     * Where a training step's time goes: ND4J's op profiler over {@code plan.iterations()} steps of the bare fit, after
     * warm-up and after as many unprofiled steps timed alone. The profiler keeps only calls longer than its threshold
     * (0.1 ms), so the many small ones (per-channel vectors, scalars) are missing from {@code ops}.
     */
    public record OpProfile(String network, int batch, int steps, double plainMsPerStep, double profiledMsPerStep,
                            List<OpTime> ops) {
    }

    /** The two backward routes of {@code network}'s 3x3 stride-1 convolutions at {@code batch}, timed here. */
    public static List<org.zoo4j.runtime.ConvolutionRoutes.Route> convolutionRoutes(Network network, int batch) {
        InputShape shape = network.config().input();
        Nd4j.getRandom().setSeed(12345);
        return org.zoo4j.runtime.ConvolutionRoutes.measure(build(network), Nd4j.rand(
                org.nd4j.linalg.api.buffer.DataType.FLOAT, batch, shape.channels(), shape.height(), shape.width()));
    }

    /** Per-op times of the bare fit, as {@link OpProfile} describes. */
    public static OpProfile ops(Network network, int batch, Plan plan) {
        ComputationGraph net = build(network);
        LayerHelpers.install(net);
        List<DataSet> batches = batches(network, batch, Math.min(plan.warmup() + 2 * plan.iterations(),
                MAX_DISTINCT_BATCHES));
        int next = 0;
        long warmupStart = System.nanoTime();
        for (int i = 0; plan.warming(i, warmupStart); i++) {
            net.fit(batches.get(next++ % batches.size()));
        }
        long start = System.nanoTime();
        for (int i = 0; i < plan.iterations(); i++) {
            net.fit(batches.get(next++ % batches.size()));
        }
        double plain = (System.nanoTime() - start) / 1e6 / plan.iterations();
        org.nd4j.linalg.profiler.OpProfiler profiler = org.nd4j.linalg.profiler.OpProfiler.getInstance();
        var executioner = Nd4j.getExecutioner();
        var before = executioner.getProfilingMode();
        profiler.reset();
        executioner.setProfilingMode(org.nd4j.linalg.api.ops.executioner.OpExecutioner.ProfilingMode.OPERATIONS);
        double profiled;
        String timings;
        try {
            start = System.nanoTime();
            for (int i = 0; i < plan.iterations(); i++) {
                net.fit(batches.get(next++ % batches.size()));
            }
            profiled = (System.nanoTime() - start) / 1e6 / plan.iterations();
            timings = profiler.getLongAggergator().asString();
        } finally {
            executioner.setProfilingMode(before);
        }
        return new OpProfile(network.name(), batch, plan.iterations(), plain, profiled,
                parseOpTimes(timings, plan.iterations()));
    }

    /** ND4J's per-op lines ("CustomOp conv2d (id)  >>>  420 calls; Min: ... Average: 5553078 ns; ..."), by time. */
    public static List<OpTime> parseOpTimes(String text, int steps) {
        java.util.regex.Pattern line = java.util.regex.Pattern.compile(
                "^\\s*\\w+ (\\S+) \\(.*?\\)\\s+>>>\\s+(\\d+) calls;.*?Average: (\\d+) ns;", java.util.regex.Pattern.MULTILINE);
        List<OpTime> ops = new ArrayList<>();
        java.util.regex.Matcher m = line.matcher(text);
        while (m.find()) {
            long calls = Long.parseLong(m.group(2));
            double totalMs = calls * Long.parseLong(m.group(3)) / 1e6;
            ops.add(new OpTime(m.group(1), (double) calls / steps, totalMs / steps));
        }
        ops.sort((a, b) -> Double.compare(b.msPerStep(), a.msPerStep()));
        return ops;
    }

    /**
     * zoo4j's layer helpers ({@link LayerHelpers}) against DL4J's own on the same network in one process: two copies
     * with the same weights trained step by step in turn (the order alternating), so that both see the same machine
     * state; the steady spread between processes on a small shared machine (up to 20%) would swamp a 5% change.
     * Returns per-step images/s of DL4J's helpers (mode {@code ab-dl4j}) and of zoo4j's ({@code ab-zoo4j}), steps
     * paired by index.
     */
    public static List<Result> helpersAb(Network network, int batch, Plan plan) {
        if (!LayerHelpers.enabled()) {
            throw new IllegalStateException("the helpers A/B needs zoo4j's layer helpers on (" + LayerHelpers.SWITCH
                    + " is false)");
        }
        ComputationGraph dl4j = build(network);
        ComputationGraph zoo4j = dl4j.clone();
        if (LayerHelpers.install(zoo4j) == 0) {
            throw new IllegalStateException(network.name() + ": no layer took zoo4j's helpers (DL4J's oneDNN helpers "
                    + "are not attached: CPU backend with helpers on is needed)");
        }
        int steps = plan.repeats() * plan.iterations();
        List<DataSet> batches = batches(network, batch, Math.min(steps, MAX_DISTINCT_BATCHES));
        int next = 0;
        long warmupStart = System.nanoTime();
        for (int i = 0; plan.warming(i, warmupStart); i++) {
            DataSet ds = batches.get(next++ % batches.size());
            dl4j.fit(ds);
            zoo4j.fit(ds);
        }
        double[] dl4jIps = new double[steps];
        double[] zoo4jIps = new double[steps];
        for (int i = 0; i < steps; i++) {
            DataSet ds = batches.get(next++ % batches.size());
            boolean dl4jFirst = i % 2 == 0;
            double first = timedStep(dl4jFirst ? dl4j : zoo4j, ds, batch);
            double second = timedStep(dl4jFirst ? zoo4j : dl4j, ds, batch);
            dl4jIps[i] = dl4jFirst ? first : second;
            zoo4jIps[i] = dl4jFirst ? second : first;
        }
        return List.of(result(network, "ab-dl4j", batch, dl4jIps), result(network, "ab-zoo4j", batch, zoo4jIps));
    }

    /**
     * Bare {@code fit} timed step by step (mode {@code steps}): one images/s figure per step, for the spread of step
     * times ({@link #spread}). An overall rate far below the median step's is time lost to stalls.
     */
    public static Result steps(Network network, int batch, Plan plan) {
        ComputationGraph net = build(network);
        LayerHelpers.install(net);
        int steps = plan.repeats() * plan.iterations();
        List<DataSet> batches = batches(network, batch, Math.min(plan.warmup() + steps, MAX_DISTINCT_BATCHES));
        int next = 0;
        long warmupStart = System.nanoTime();
        for (int i = 0; plan.warming(i, warmupStart); i++) {
            net.fit(batches.get(next++ % batches.size()));
        }
        double[] ips = new double[steps];
        for (int i = 0; i < steps; i++) {
            ips[i] = timedStep(net, batches.get(next++ % batches.size()), batch);
        }
        return result(network, "steps", batch, ips);
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

    private static double timedStep(ComputationGraph net, DataSet ds, int batch) {
        long start = System.nanoTime();
        net.fit(ds);
        return batch / ((System.nanoTime() - start) / 1e9);
    }

    /** Inference over batches in memory. */
    public static Result infer(Network network, int batch, Plan plan) {
        ComputationGraph net = build(network);
        List<DataSet> batches = batches(network, batch, Math.min(plan.iterations(), 10));
        double[] ips = new double[plan.repeats()];
        int next = 0;
        long warmupStart = System.nanoTime();
        for (int i = 0; plan.warming(i, warmupStart); i++) {
            net.output(batches.get(next++ % batches.size()).getFeatures());
        }
        for (int r = 0; r < plan.repeats(); r++) {
            long start = System.nanoTime();
            for (int i = 0; i < plan.iterations(); i++) {
                INDArray out = net.output(batches.get(next++ % batches.size()).getFeatures())[0];
                out.close();
            }
            ips[r] = (double) plan.iterations() * batch / ((System.nanoTime() - start) / 1e9);
        }
        return result(network, "infer", batch, ips);
    }

    /**
     * zoo4j's training loop: a {@link Trainer} run over {@code plan.iterations() * batch} Fashion-MNIST images per
     * epoch, untimed warm-up epochs (at least one, and enough for {@code plan.warmupSeconds()} at
     * {@code expectedImagesPerSecond}, as the other modes warm up), then {@code plan.repeats()} timed epochs (the
     * images/s of its metrics).
     */
    public static Result loop(Network network, int batch, Plan plan, double expectedImagesPerSecond, Path workDir)
            throws IOException {
        if (!network.realData()) {
            throw new IllegalArgumentException(network.name() + ": the loop mode reads Fashion-MNIST; this network is "
                    + "benchmarked on random images only (fit, infer)");
        }
        int images = plan.iterations() * batch;
        int warmupEpochs = (int) Math.max(1, Math.ceil(plan.warmupSeconds() * expectedImagesPerSecond / images));
        TrainingRecipe recipe = new TrainingRecipe(network.model(), network.overrides(), pipelineConfig(batch, images),
                warmupEpochs + plan.repeats(), null, 0, 0, 0, null, null, 1, null);
        Path runDir = Files.createTempDirectory(workDir, "bench-" + network.name() + "-");
        try (Trainer trainer = Trainer.start(recipe, runDir, new PrintStream(PrintStream.nullOutputStream()))) {
            trainer.run();
            double[] ips = trainer.state().history().stream().skip(warmupEpochs)
                    .mapToDouble(org.zoo4j.training.EpochMetrics::imagesPerSecond).toArray();
            return result(network, "loop", batch, ips);
        } finally {
            org.zoo4j.data.AtomicFiles.deleteTree(runDir);
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
    public static MemoryTrace memory(Network network, int batch, int epochs, int images, Path workDir)
            throws IOException, InterruptedException {
        TrainingRecipe recipe = new TrainingRecipe(network.model(), network.overrides(), pipelineConfig(batch, images),
                epochs, null, 0, 0, 0, null, null, 1, null);
        Path runDir = Files.createTempDirectory(workDir, "memory-" + network.name() + "-");
        long[] rss = new long[epochs];
        long[] heap = new long[epochs];
        try (Trainer trainer = Trainer.start(recipe, runDir, new PrintStream(PrintStream.nullOutputStream()))) {
            java.util.concurrent.atomic.AtomicReference<Throwable> failure = new java.util.concurrent.atomic.AtomicReference<>();
            Thread training = new Thread(() -> {
                try {
                    trainer.run();
                } catch (Throwable t) {
                    failure.set(t);
                }
            }, "zoo4j-memory-trace");
            training.start();
            int seen = 0;
            while (training.isAlive() || seen < trainer.state().epochsDone()) {
                int done = trainer.state().epochsDone();
                while (seen < done && seen < epochs) {
                    System.gc();
                    rss[seen] = rss();
                    heap[seen] = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
                    seen++;
                }
                Thread.sleep(20);
            }
            if (failure.get() != null) {
                throw new IllegalStateException("training failed: " + failure.get(), failure.get());
            }
        } finally {
            org.zoo4j.data.AtomicFiles.deleteTree(runDir);
        }
        return new MemoryTrace(network.name(), batch, rss, heap);
    }

    /** The data as zoo4j's loop reads it: no augmentation, standardised, no validation split, a subset. */
    private static DataConfig pipelineConfig(int batch, int images) {
        return DataConfig.of("fashion-mnist").withBatchSize(batch).withFractions(0, 0).withSubset(images)
                .withNormalization(NormalizationMode.STANDARDIZE).withDownload(false);
    }

    static ComputationGraph build(Network network) {
        Backend.init();
        return org.zoo4j.zoo.Zoo.create(network.model(), withClasses(network.overrides()));
    }

    private static Map<String, Object> withClasses(Map<String, Object> overrides) {
        Map<String, Object> all = new LinkedHashMap<>(overrides);
        all.putIfAbsent("numClasses", 10);
        return all;
    }

    /** {@code count} batches of the network's input: real Fashion-MNIST through the pipeline, or random images. */
    static List<DataSet> batches(Network network, int batch, int count) {
        InputShape shape = network.config().input();
        List<DataSet> out = new ArrayList<>();
        if (!network.realData()) {
            Nd4j.getRandom().setSeed(12345);
            for (int i = 0; i < count; i++) {
                INDArray labels = Nd4j.zeros(batch, 10);
                for (int j = 0; j < batch; j++) {
                    labels.putScalar(j, (i * batch + j) % 10, 1.0);
                }
                out.add(new DataSet(Nd4j.randn(org.nd4j.linalg.api.buffer.DataType.FLOAT, batch, shape.channels(),
                        shape.height(), shape.width()), labels));
            }
            return out;
        }
        try (DataPipeline data = DataPipeline.open(pipelineConfig(batch, batch * count), shape)) {
            ImageBatchIterator it = data.train();
            while (it.hasNext() && out.size() < count) {
                DataSet ds = it.next();
                out.add(new DataSet(ds.getFeatures().dup(), ds.getLabels().dup()));
            }
        }
        return out;
    }

    private static Result result(Network network, String mode, int batch, double[] ips) {
        return new Result(network.name(), mode, batch, Nd4j.getEnvironment().maxMasterThreads(), ips, peakHeap(),
                peakRss(), org.bytedeco.javacpp.Pointer.totalBytes());
    }

    /** Sum of the heap pools' peak usage since the JVM started. */
    static long peakHeap() {
        long sum = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP && pool.getPeakUsage() != null) {
                sum += pool.getPeakUsage().getUsed();
            }
        }
        return sum;
    }

    /** Peak resident set size of this process (Linux VmHWM), or -1 where unknown. */
    public static long peakRss() {
        return procStatus("VmHWM:");
    }

    /** Current resident set size of this process (Linux VmRSS), or -1 where unknown. */
    public static long rss() {
        return procStatus("VmRSS:");
    }

    private static long procStatus(String key) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(key)) {
                    return Long.parseLong(line.substring(key.length()).trim().split("\\s+")[0]) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux
        }
        return -1;
    }
}
