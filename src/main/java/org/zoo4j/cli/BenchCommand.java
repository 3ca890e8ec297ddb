package org.zoo4j.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.zoo4j.base.AtomicFiles;
import org.zoo4j.base.Choices;
import org.zoo4j.base.UserInputException;
import org.zoo4j.bench.BenchMode;
import org.zoo4j.bench.BenchNetwork;
import org.zoo4j.bench.BenchRunner;
import org.zoo4j.bench.Measurements;
import org.zoo4j.bench.Result;
import org.zoo4j.bench.RunBenchmarks;
import org.zoo4j.runtime.ConvolutionRoutes;
import org.zoo4j.runtime.LayerHelpers;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code zoo4j bench}: training and inference images/s of the zoo's networks, as CSV and a table. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Measure training and inference speed (images/s) and peak memory of the zoo's networks.",
                "Modes: fit = DL4J's bare fit over batches in memory; loop = zoo4j's trainer through the data "
                        + "pipeline; infer = inference over batches in memory. Median and spread of --repeats timed "
                        + "runs after --warmup untimed iterations. Asked together, fit and loop are timed in turn on "
                        + "one network, a fit run of as many steps for each timed epoch of the loop, half just before it "
                        + "and half just after.",
                "Thread count: set OMP_NUM_THREADS before starting (ND4J and oneDNN read it once).",
                "Examples:", "  ./zoo4j bench", "  ./zoo4j bench --network resnet20 --mode fit,loop --repeats 5",
                "  ./zoo4j bench --network lenet5 --batch 64 --csv results.csv"},
        footer = {"Peak memory (heap, resident) is the process's so far: benchmark one network per process to get "
                + "each network's own peak."})
final class BenchCommand implements Callable<Integer> {
    @Option(names = "--network", split = ",", description = "networks to measure (default: all): "
            + "lenet5, alexnet-small, vgg16-bn, resnet20, resnet18-224; resnet50-224 only when named")
    List<String> networks = new ArrayList<>();

    @Option(names = "--mode", split = ",", defaultValue = "fit,loop,infer", converter = ModeConverter.class,
            description = "fit, loop and/or infer (default: ${DEFAULT-VALUE}); helpers: zoo4j's layer helpers against "
                    + "DL4J's, the same network in one process, step by step in turn; steps: the bare fit timed step "
                    + "by step, with the spread of step times; ops: where a training step's time goes, per native "
                    + "operation (ND4J's op profiler); routes: the two backward passes of the 3x3 convolutions that "
                    + "zoo4j's convolution helper chooses between, timed on this machine; params: the parameter count only")
    List<BenchMode> modes;

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
        PrintStream out = System.out;
        List<BenchNetwork> chosen = networks.isEmpty() ? BenchNetwork.ALL
                : networks.stream().map(BenchNetwork::named).toList();
        if (memoryEpochs > 0) {
            for (RunBenchmarks.MemoryTrace trace : BenchRunner.memory(chosen, batches, memoryEpochs, memoryImages)) {
                printMemory(out, trace);
            }
            return 0;
        }
        out.println(String.format(Locale.ROOT, "%-14s %-8s %5s %7s %12s %21s %9s %9s", "network", "mode", "batch",
                "threads", "median img/s", "spread (min..max)", "heap MB", "RSS MB"));
        List<Result> results = BenchRunner.run(new BenchRunner.Options(chosen, modes, batches, warmup, warmupSeconds,
                repeats, iterations, rawDl4j), new Printer(out));
        if (csv != null) {
            writeCsv(results);
            out.println("appended " + results.size() + " rows to " + csv);
        }
        return 0;
    }

    /** Reads --mode values. */
    static final class ModeConverter implements CommandLine.ITypeConverter<BenchMode> {
        @Override
        public BenchMode convert(String value) {
            try {
                return Choices.parse(BenchMode.class, "--mode", value);
            } catch (UserInputException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }

    /** Prints each figure as the benchmark reports it. */
    private record Printer(PrintStream out) implements BenchRunner.Report {
        @Override
        public void row(Result r) {
            out.println(String.format(Locale.ROOT, "%-14s %-8s %5d %7d %,12.0f %21s %,9.0f %,9.0f", r.network(),
                    r.mode(), r.batch(), r.threads(), r.median(), String.format(Locale.ROOT, "%,.0f..%,.0f", r.min(),
                            r.max()), r.peakHeapBytes() / 1048576.0, r.peakRssBytes() / 1048576.0));
            out.flush();
        }

        @Override
        public void helpers(BenchNetwork network, double[] up, int steps) {
            out.println(String.format(Locale.ROOT, "%-14s zoo4j's helpers / DL4J's: %.3fx per step (median; "
                    + "quartiles %.3f..%.3f over %d steps)", network.name(), up[0], up[1], up[2], steps));
        }

        @Override
        public void steps(BenchNetwork network, Measurements.StepRun run, Measurements.StepSpread sp) {
            out.println(String.format(Locale.ROOT, "%-14s step ms: median %.2f, p90 %.2f, p99 %.2f, max %.1f; %d of %d "
                            + "steps over 3x the median took %.0f%% of the time beyond it; %.0f img/s over all steps; "
                            + "%d garbage collections in them, %,d ms",
                    network.name(), sp.medianMs(), sp.p90Ms(), sp.p99Ms(), sp.maxMs(), sp.slowSteps(),
                    run.result().imagesPerSecond().length, 100 * sp.slowShare(), sp.overallImagesPerSecond(),
                    run.collections(), run.collectionMillis()));
        }

        @Override
        public void ops(Measurements.OpProfile p) {
            out.println(String.format(Locale.ROOT, "%-14s ops, batch %d, %d steps: %.1f ms a step unprofiled, %.1f "
                            + "profiled; ND4J's profiler records only calls over %.1f ms, so the many small ones are "
                            + "missing below", p.network(), p.batch(), p.steps(), p.plainMsPerStep(),
                    p.profiledMsPerStep(), p.thresholdMs()));
            if (p.ops().isEmpty()) {
                out.println(p.network() + " ops: ND4J's profiler reported no calls that could be read (its output "
                        + "format may differ in this ND4J version)");
            }
            double total = p.ops().stream().mapToDouble(Measurements.OpTime::msPerStep).sum();
            for (Measurements.OpTime op : p.ops()) {
                out.println(String.format(Locale.ROOT, "%-14s   %-22s %8.1f calls %9.1f ms %6.1f%%", "", op.op(),
                        op.callsPerStep(), op.msPerStep(), 100 * op.msPerStep() / total));
            }
        }

        @Override
        public void params(BenchNetwork network, long count) {
            out.println(String.format(Locale.ROOT, "%-14s parameters %,d", network.name(), count));
        }

        @Override
        public void routes(BenchNetwork network, List<ConvolutionRoutes.Route> routes, String why) {
            if (why != null) {
                out.println(network.name() + " routes: " + why);
            }
            for (ConvolutionRoutes.Route r : routes) {
                out.println(String.format(Locale.ROOT, "%-14s routes %4d x %3d -> %3d at %3dx%-3d oneDNN's %8.2f ms, "
                                + "direct %8.2f ms; zoo4j takes %-6s %s (%s)", network.name(), r.batch(),
                        r.inChannels(), r.outChannels(), r.height(), r.width(), r.oneDnnMs(), r.directMs(),
                        r.directTaken() ? "direct" : "oneDNN", r.choiceFaster() ? "the faster" : "THE SLOWER",
                        String.join(", ", r.layers())));
            }
        }
    }

    private static void printMemory(PrintStream out, RunBenchmarks.MemoryTrace trace) {
        StringBuilder rss = new StringBuilder();
        StringBuilder heap = new StringBuilder();
        for (int e = 0; e < trace.rssBytes().length; e++) {
            rss.append(String.format(Locale.ROOT, " %.0f", trace.rssBytes()[e] / 1048576.0));
            heap.append(String.format(Locale.ROOT, " %.0f", trace.heapBytes()[e] / 1048576.0));
        }
        out.printf(Locale.ROOT, "%s batch %d, %d epochs%n  resident MB after each epoch:%s%n  heap MB after each epoch "
                        + "(after GC):%s%n  resident growth from epoch 2 to %d: %+.1f MB%n", trace.network(),
                trace.batch(), trace.rssBytes().length, rss, heap, trace.rssBytes().length,
                trace.rssGrowth() / 1048576.0);
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
