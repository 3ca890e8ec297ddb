package org.zoo4j.bench;

import com.sun.management.ThreadMXBean;
import java.io.PrintStream;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.dataset.DataSet;
import org.zoo4j.base.AtomicFiles;
import org.zoo4j.recipe.TrainingRecipe;
import org.zoo4j.training.Trainer;
import org.zoo4j.training.TrainingHooks;

/**
 * zoo4j's training loop and DL4J's bare fit step by step, in turn in one process: after each loop epoch (past the
 * warm-up epochs) a fit run of as many steps on the same network, over batches in memory. For each pair, the mean and
 * median step of each (microseconds), the young collections that fell in each (for the loop: from the fit run before
 * to the epoch's end, its checkpoint included), and the Java heap each step allocated (all threads). A median step is what a step costs away from the collections and stalls that an epoch's images/s
 * averages in; its ratio loop / fit is the loop's own cost per step. Run:
 * <pre>
 * mvn -q -B -DskipTests test-compile dependency:build-classpath -Dmdep.outputFile=target/bench.classpath
 * java -Xmx4g -XX:+UseSerialGC -Xmn96m -XX:SurvivorRatio=4 \
 *     -cp "target/test-classes:target/classes:$(cat target/bench.classpath)" \
 *     org.zoo4j.bench.LoopFitSteps lenet5 [batch 64] [steps an epoch 340] [warm-up epochs 5] [pairs 10] \
 *     [fit warm-up seconds 10]
 * </pre>
 * {@code training/benchmarks/loop_fit_steps_ab.sh} runs it against two commits' main classes in turn.
 */
public final class LoopFitSteps {
    private LoopFitSteps() {
    }

    public static void main(String[] args) throws Exception {
        BenchNetwork network = BenchNetwork.named(args.length > 0 ? args[0] : "lenet5");
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 64;
        int steps = args.length > 2 ? Integer.parseInt(args[2]) : 340;
        int warmEpochs = args.length > 3 ? Integer.parseInt(args[3]) : 5;
        int pairs = args.length > 4 ? Integer.parseInt(args[4]) : 10;
        double fitWarmSeconds = args.length > 5 ? Double.parseDouble(args[5]) : 10;
        List<Long> arrivals = new ArrayList<>();
        long[] allocatedAtSecondStep = {0};
        long[] loopAllocatedPerStep = {0};
        List<Segment> loop = new ArrayList<>();
        List<Segment> fit = new ArrayList<>();
        long[] collectionsAtEpochStart = {collections()};
        Trainer[] running = new Trainer[1];
        List<DataSet> inMemory = BenchData.batches(network, batch, 16);
        TrainingHooks hooks = TrainingHooks.NONE.withBatchFilter(ds -> {
            arrivals.add(System.nanoTime());
            if (arrivals.size() == 2) {
                allocatedAtSecondStep[0] = allocated();
            } else if (arrivals.size() == steps) { // steps 2 to steps - 1, each ended by the next batch's arrival
                loopAllocatedPerStep[0] = (allocated() - allocatedAtSecondStep[0]) / (steps - 2);
            }
            return ds;
        }).withOnEpoch((m, state) -> {
            long[] loopTimes = new long[arrivals.size() - 1];
            for (int i = 1; i < arrivals.size(); i++) {
                loopTimes[i - 1] = arrivals.get(i) - arrivals.get(i - 1);
            }
            arrivals.clear();
            loop.add(new Segment(loopTimes, collections() - collectionsAtEpochStart[0], loopAllocatedPerStep[0]));
            ComputationGraph net = running[0].net();
            if (state.epochsDone() == warmEpochs) {
                long start = System.nanoTime();
                for (int i = 0; (System.nanoTime() - start) / 1e9 < fitWarmSeconds; i++) {
                    net.fit(inMemory.get(i % inMemory.size()));
                }
            }
            if (state.epochsDone() >= warmEpochs) {
                long collections = collections();
                long allocated = allocated();
                long[] times = new long[steps];
                long previous = System.nanoTime();
                for (int i = 0; i < steps; i++) {
                    net.fit(inMemory.get(i % inMemory.size()));
                    long now = System.nanoTime();
                    times[i] = now - previous;
                    previous = now;
                }
                fit.add(new Segment(times, collections() - collections, (allocated() - allocated) / steps));
            }
            collectionsAtEpochStart[0] = collections();
            return null;
        });
        TrainingRecipe recipe = new TrainingRecipe(network.model(), network.overrides(),
                BenchData.pipeline(batch, steps * batch), warmEpochs + pairs, null, 0, 0, 0, null, null, 1, null);
        Path dir = Files.createTempDirectory("loop-fit-steps-");
        try (Trainer trainer = Trainer.start(recipe, dir, new PrintStream(PrintStream.nullOutputStream()), hooks)) {
            running[0] = trainer;
            trainer.run();
        } finally {
            AtomicFiles.deleteTree(dir);
        }
        System.out.println("pair | loop: mean, median step us, collections, KB allocated a step | fit: the same | "
                + "loop / fit: median step, mean step");
        double[] medianRatios = new double[pairs];
        double[] meanRatios = new double[pairs];
        for (int p = 0; p < pairs; p++) {
            Segment l = loop.get(warmEpochs + p);
            Segment f = fit.get(p);
            medianRatios[p] = l.median() / f.median();
            meanRatios[p] = l.mean() / f.mean();
            System.out.printf(Locale.ROOT, "%d | %.0f %.0f %d %.0f | %.0f %.0f %d %.0f | %.3f %.3f%n", p + 1, l.mean(),
                    l.median(), l.collections(), l.allocatedPerStep() / 1024.0, f.mean(), f.median(),
                    f.collections(), f.allocatedPerStep() / 1024.0, medianRatios[p], meanRatios[p]);
        }
        System.out.printf(Locale.ROOT, "median over the %d pairs, loop / fit: median step %.3f, mean step %.3f%n",
                pairs, median(medianRatios), median(meanRatios));
    }

    /** One loop epoch's or fit run's step times (ns), its young collections, and heap allocated per step. */
    private record Segment(long[] times, long collections, long allocatedPerStep) {
        double mean() {
            return Arrays.stream(times).average().orElse(Double.NaN) / 1e3;
        }

        double median() {
            long[] sorted = times.clone();
            Arrays.sort(sorted);
            return sorted[sorted.length / 2] / 1e3;
        }
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    private static long collections() {
        long count = 0;
        for (GarbageCollectorMXBean bean : ManagementFactory.getGarbageCollectorMXBeans()) {
            count += bean.getCollectionCount();
        }
        return count;
    }

    private static long allocated() {
        ThreadMXBean threads = (ThreadMXBean) ManagementFactory.getThreadMXBean();
        long sum = 0;
        for (long bytes : threads.getThreadAllocatedBytes(threads.getAllThreadIds())) {
            sum += Math.max(0, bytes);
        }
        return sum;
    }
}
