package org.zoo4j.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.zoo4j.bench.ModelBenchmark;
import org.zoo4j.bench.ModelBenchmark.Network;
import org.zoo4j.bench.ModelBenchmark.Plan;
import org.zoo4j.bench.ModelBenchmark.Result;
import org.zoo4j.data.AtomicFiles;
import org.zoo4j.runtime.Backend;
import org.zoo4j.runtime.LayerHelpers;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code zoo4j bench}: training and inference images/s of the zoo's networks, as CSV and a table. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Measure training and inference speed (images/s) and peak memory of the zoo's networks.",
                "Modes: fit = DL4J's bare fit over batches in memory; loop = zoo4j's trainer through the data "
                        + "pipeline; infer = inference over batches in memory. Median and spread of --repeats timed "
                        + "runs after --warmup untimed iterations.",
                "Thread count: set OMP_NUM_THREADS before starting (ND4J and oneDNN read it once).",
                "Examples:", "  ./zoo4j bench", "  ./zoo4j bench --network resnet20 --mode fit,loop --repeats 5",
                "  ./zoo4j bench --network lenet5 --batch 64 --csv results.csv"},
        footer = {"Peak memory (heap, resident) is the process's so far: benchmark one network per process to get "
                + "each network's own peak."})
final class BenchCommand implements Callable<Integer> {
    @Option(names = "--network", split = ",", description = "networks to measure (default: all): "
            + "lenet5, alexnet-small, vgg16-bn, resnet20, resnet18-224")
    List<String> networks = new ArrayList<>();

    @Option(names = "--mode", split = ",", defaultValue = "fit,loop,infer",
            description = "fit, loop and/or infer (default: ${DEFAULT-VALUE}); helpers: zoo4j's layer helpers against "
                    + "DL4J's, the same network in one process, step by step in turn; steps: the bare fit timed step "
                    + "by step, with the spread of step times; ops: where a training step's time goes, per native "
                    + "operation (ND4J's op profiler); routes: the two backward passes of the 3x3 convolutions that "
                    + "zoo4j's convolution helper chooses between, timed on this machine")
    List<String> modes;

    @Option(names = "--batch", split = ",", description = "training batch sizes (default: each network's own)")
    List<Integer> batches = new ArrayList<>();

    @Option(names = "--warmup", defaultValue = "5", description = "untimed iterations first, at least "
            + "(default: ${DEFAULT-VALUE})")
    int warmup;

    @Option(names = "--warmup-seconds", defaultValue = "10", description = "and untimed seconds first, at least, for "
            + "fit and infer (default: ${DEFAULT-VALUE}); the loop mode warms up with one untimed epoch")
    double warmupSeconds;

    @Option(names = "--repeats", defaultValue = "5", description = "timed runs (default: ${DEFAULT-VALUE})")
    int repeats;

    @Option(names = "--iterations", defaultValue = "0",
            description = "batches per timed run; 0 = about 2 seconds of work per run, estimated from the warm-up")
    int iterations;

    @Option(names = "--raw-dl4j", description = "train with DL4J's own oneDNN layer helpers throughout, as "
            + "-D" + LayerHelpers.SWITCH + "=false does: the raw-DL4J baseline for zoo4j's faster ones")
    boolean rawDl4j;

    @Option(names = "--csv", description = "append the results to this CSV file (header written when new); the "
            + "ops and routes modes print their tables only")
    Path csv;

    @Option(names = "--memory-epochs", defaultValue = "0", description = "instead of speed: train each network this "
            + "many epochs of --memory-images images and print resident and heap memory after each epoch")
    int memoryEpochs;

    @Option(names = "--memory-images", defaultValue = "6000", description = "images per epoch for --memory-epochs "
            + "(default: ${DEFAULT-VALUE})")
    int memoryImages;

    @Override
    public Integer call() throws IOException {
        Backend.init();
        if (rawDl4j) {
            System.setProperty(LayerHelpers.SWITCH, "false");
        }
        PrintStream out = System.out;
        List<Network> chosen = networks.isEmpty() ? ModelBenchmark.NETWORKS
                : networks.stream().map(ModelBenchmark::network).toList();
        for (String mode : modes) {
            if (!List.of("fit", "loop", "infer", "helpers", "steps", "ops", "routes").contains(mode)) {
                throw new IllegalArgumentException("--mode: fit, loop, infer, helpers, steps, ops or routes; got '"
                        + mode + "'");
            }
        }
        if (memoryEpochs > 0) {
            return memory(chosen, out);
        }
        out.println(String.format(Locale.ROOT, "%-14s %-8s %5s %7s %12s %21s %9s %9s", "network", "mode", "batch",
                "threads", "median img/s", "spread (min..max)", "heap MB", "RSS MB"));
        List<Result> results = new ArrayList<>();
        Path work = Files.createTempDirectory("zoo4j-bench");
        try {
            for (Network network : chosen) {
                for (String mode : modes) {
                    if (mode.equals("loop") && !network.realData()) {
                        continue;
                    }
                    List<Integer> sizes = mode.equals("infer") ? List.of(network.inferBatch())
                            : batches.isEmpty() ? network.trainBatch() : batches;
                    for (int batch : sizes) {
                        if (mode.equals("routes")) {
                            routes(out, network, batch);
                            continue;
                        }
                        double probe = probeImagesPerSecond(network, mode, batch);
                        int n = iterations > 0 ? iterations
                                : (int) Math.max(3, Math.min(200, Math.round(2 * probe / batch)));
                        if (mode.equals("loop") && iterations == 0) {
                            // An epoch each: enough batches that starting an epoch (shuffle, first batch) is amortised.
                            n = Math.max(n, 30);
                        }
                        Plan plan = new Plan(warmup, warmupSeconds, repeats, n);
                        if (mode.equals("helpers")) {
                            List<Result> pair = ModelBenchmark.helpersAb(network, batch, plan);
                            double[] up = ModelBenchmark.speedUp(pair.get(0), pair.get(1));
                            for (Result r : pair) {
                                results.add(r);
                                printRow(out, r);
                            }
                            out.println(String.format(Locale.ROOT, "%-14s zoo4j's helpers / DL4J's: %.3fx per step "
                                    + "(median; quartiles %.3f..%.3f over %d steps)", network.name(), up[0], up[1],
                                    up[2], pair.get(0).imagesPerSecond().length));
                            continue;
                        }
                        if (mode.equals("ops")) {
                            ModelBenchmark.OpProfile p = ModelBenchmark.ops(network, batch, plan);
                            out.println(String.format(Locale.ROOT, "%-14s ops, batch %d, %d steps: %.1f ms a step "
                                    + "unprofiled, %.1f profiled; ND4J's profiler records only calls over %.1f ms, so "
                                    + "the many small ones are missing below", network.name(), batch, p.steps(),
                                    p.plainMsPerStep(), p.profiledMsPerStep(),
                                    org.nd4j.linalg.profiler.OpProfiler.getInstance().getTHRESHOLD() / 1e6));
                            if (p.ops().isEmpty()) {
                                out.println(network.name() + " ops: ND4J's profiler reported no calls that could be "
                                        + "read (its output format may differ in this ND4J version)");
                            }
                            double total = p.ops().stream().mapToDouble(ModelBenchmark.OpTime::msPerStep).sum();
                            for (ModelBenchmark.OpTime op : p.ops()) {
                                out.println(String.format(Locale.ROOT, "%-14s   %-22s %8.1f calls %9.1f ms %6.1f%%",
                                        "", op.op(), op.callsPerStep(), op.msPerStep(), 100 * op.msPerStep() / total));
                            }
                            continue;
                        }
                        if (mode.equals("steps")) {
                            Result r = ModelBenchmark.steps(network, batch, plan);
                            results.add(r);
                            printRow(out, r);
                            ModelBenchmark.StepSpread sp = ModelBenchmark.spread(r);
                            out.println(String.format(Locale.ROOT, "%-14s step ms: median %.2f, p90 %.2f, p99 %.2f, "
                                    + "max %.1f; %d of %d steps over 3x the median took %.0f%% of the time beyond "
                                    + "it; %.0f img/s over all steps", network.name(), sp.medianMs(), sp.p90Ms(),
                                    sp.p99Ms(), sp.maxMs(), sp.slowSteps(), r.imagesPerSecond().length,
                                    100 * sp.slowShare(), sp.overallImagesPerSecond()));
                            continue;
                        }
                        Result r = switch (mode) {
                            case "fit" -> ModelBenchmark.fit(network, batch, plan);
                            case "infer" -> ModelBenchmark.infer(network, batch, plan);
                            default -> ModelBenchmark.loop(network, batch, plan, probe, work);
                        };
                        if (rawDl4j) {
                            r = r.withMode(r.mode() + "-raw");
                        }
                        results.add(r);
                        printRow(out, r);
                    }
                }
            }
        } finally {
            Files.deleteIfExists(work);
        }
        if (csv != null) {
            writeCsv(results);
            out.println("appended " + results.size() + " rows to " + csv);
        }
        return 0;
    }

    private static void routes(PrintStream out, Network network, int batch) {
        if (!org.zoo4j.runtime.ConvolutionRoutes.winogradCpu()) {
            out.println(network.name() + " routes: this CPU has no AVX-512 Winograd kernels (or an ISA cap is set); "
                    + "oneDNN's backward pass is direct already and the helper keeps it");
            return;
        }
        var routes = ModelBenchmark.convolutionRoutes(network, batch);
        if (routes.isEmpty()) {
            out.println(network.name() + " routes: no 3x3 stride-1 NCHW convolutions with channel counts in multiples "
                    + "of 16, so no layer where oneDNN would pick Winograd");
        }
        for (var r : routes) {
            out.println(String.format(Locale.ROOT, "%-14s routes %4d x %3d -> %3d at %3dx%-3d oneDNN's %8.2f ms, "
                            + "direct %8.2f ms; zoo4j takes %-6s %s (%s)", network.name(), r.batch(), r.inChannels(),
                    r.outChannels(), r.height(), r.width(), r.oneDnnMs(), r.directMs(),
                    r.directTaken() ? "direct" : "oneDNN", r.choiceFaster() ? "the faster" : "THE SLOWER",
                    String.join(", ", r.layers())));
        }
    }

    private int memory(List<Network> chosen, PrintStream out) throws IOException {
        Path work = Files.createTempDirectory("zoo4j-bench");
        try {
            for (Network network : chosen) {
                if (!network.realData()) {
                    continue;
                }
                int batch = batches.isEmpty() ? network.trainBatch().get(0) : batches.get(0);
                ModelBenchmark.MemoryTrace trace;
                try {
                    trace = ModelBenchmark.memory(network, batch, memoryEpochs, memoryImages, work);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return 130;
                }
                StringBuilder rss = new StringBuilder();
                StringBuilder heap = new StringBuilder();
                for (int e = 0; e < memoryEpochs; e++) {
                    rss.append(String.format(Locale.ROOT, " %.0f", trace.rssBytes()[e] / 1048576.0));
                    heap.append(String.format(Locale.ROOT, " %.0f", trace.heapBytes()[e] / 1048576.0));
                }
                out.printf(Locale.ROOT, "%s batch %d, %d epochs of %d images%n  resident MB after each epoch:%s%n"
                                + "  heap MB after each epoch (after GC):%s%n  resident growth from epoch 2 to %d: %+.1f MB%n",
                        network.name(), batch, memoryEpochs, memoryImages, rss, heap, memoryEpochs,
                        trace.rssGrowth() / 1048576.0);
            }
        } finally {
            Files.deleteIfExists(work);
        }
        return 0;
    }

    /** Enough batches for about two seconds per timed run, from a short untimed fit (at least 3, at most 200). */
    private static void printRow(PrintStream out, Result r) {
        out.println(String.format(Locale.ROOT, "%-14s %-8s %5d %7d %,12.0f %21s %,9.0f %,9.0f", r.network(), r.mode(),
                r.batch(), r.threads(), r.median(), String.format(Locale.ROOT, "%,.0f..%,.0f", r.min(), r.max()),
                r.peakHeapBytes() / 1048576.0, r.peakRssBytes() / 1048576.0));
        out.flush();
    }

    /** Images/s of a short cold run: sizes the timed runs (about 2 s each) and the loop's warm-up epochs. */
    private static double probeImagesPerSecond(Network network, String mode, int batch) {
        Result probe = mode.equals("infer")
                ? ModelBenchmark.infer(network, batch, new Plan(1, 0, 1, 2))
                : ModelBenchmark.fit(network, batch, new Plan(1, 0, 1, 2));
        return probe.median();
    }

    private void writeCsv(List<Result> results) throws IOException {
        StringBuilder text = new StringBuilder();
        if (Files.isRegularFile(csv)) {
            text.append(Files.readString(csv));
        } else {
            text.append(Result.CSV_HEADER).append('\n');
        }
        for (Result r : results) {
            text.append(r.csv()).append('\n');
        }
        AtomicFiles.writeString(csv, text.toString());
    }
}
