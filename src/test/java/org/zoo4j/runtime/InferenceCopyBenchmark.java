package org.zoo4j.runtime;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.zoo4j.Zoo;
import org.zoo4j.bench.BenchNetwork;

/**
 * Inference copies with and without their ReLUs fused into the operation before them (ReLU layers merged into the
 * convolution they read, {@link InferenceCopy#reluPairs}, or into the addition they read, {@link AddReluVertex}, and a
 * convolution's own ReLU applied by oneDNN's primitive), timed in one process on the same batch: A (without: ReLUs as
 * passes of their own) and B (with) in turn, the order alternating, so that a shared machine's drift affects both
 * alike; where separate processes are compared, one process's speed varies by as much as this change. Prints each
 * round's milliseconds per call and the speed ratio B / A (above 1: fused is faster), then the median ratio, and how
 * many ReLU layers, convolutions applying a ReLU and additions with a ReLU each copy has. Run:
 * <pre>
 * mvn -q -B -DskipTests test-compile dependency:build-classpath -Dmdep.outputFile=target/bench.classpath
 * java -cp "target/test-classes:target/classes:$(cat target/bench.classpath)" \
 *     org.zoo4j.runtime.InferenceCopyBenchmark [networks, e.g. resnet20,vgg16-bn] [rounds] [seconds per side]
 * </pre>
 */
public final class InferenceCopyBenchmark {
    private InferenceCopyBenchmark() {
    }

    public static void main(String[] args) {
        Backend.init();
        String[] names = (args.length > 0 ? args[0] : "resnet20,vgg16-bn,alexnet-small,lenet5").split(",");
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 11;
        double seconds = args.length > 2 ? Double.parseDouble(args[2]) : 1.5;
        System.out.println("# inference copies, ReLUs as passes of their own (A) against fused into the operation"
                + " before them (B); " + rounds + " rounds of about " + seconds + " s per side; threads "
                + Nd4j.getEnvironment().maxMasterThreads());
        for (String name : names) {
            BenchNetwork network = BenchNetwork.named(name);
            ComputationGraph trained = Zoo.create(network.model(), network.settings());
            long[] chw = Arrays.stream(network.settings().get("input").toString().split(","))
                    .mapToLong(Long::parseLong).toArray();
            INDArray x = Nd4j.rand(DataType.FLOAT, network.inferBatch(), chw[0], chw[1], chw[2]);
            ComputationGraph a = InferenceCopy.of(trained, false);
            ComputationGraph b = InferenceCopy.of(trained, true);
            INDArray outA = a.outputSingle(false, x);
            INDArray outB = b.outputSingle(false, x);
            double difference = outA.sub(outB).amaxNumber().doubleValue();
            time(a, x, 3); // warm-up: primitives made, weights reordered, workspaces sized
            time(b, x, 3);
            int calls = Math.max(1, (int) Math.round(seconds / (0.001 * time(a, x, 2))));
            System.out.printf(Locale.ROOT, "## %s, batch %d: ReLU layers %d (A) -> %d (B), convolutions applying a"
                    + " ReLU %d"
                    + " (A) -> %d (B), additions with a ReLU %d (A) -> %d (B); outputs differ by at most %.2e; %d calls"
                    + " per side and round%n", name, network.inferBatch(), relus(a), relus(b), fusing(a), fusing(b),
                    sums(a), sums(b), difference, calls);
            System.out.println("round   A ms/call   B ms/call   B/A speed");
            List<Double> ratios = new ArrayList<>();
            for (int r = 1; r <= rounds; r++) {
                double ta;
                double tb;
                if (r % 2 == 1) {
                    ta = time(a, x, calls);
                    tb = time(b, x, calls);
                } else {
                    tb = time(b, x, calls);
                    ta = time(a, x, calls);
                }
                ratios.add(ta / tb);
                System.out.printf(Locale.ROOT, "%5d %11.2f %11.2f %11.3f%n", r, ta, tb, ta / tb);
            }
            double[] sorted = ratios.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            System.out.printf(Locale.ROOT, "median B/A %.3f (lowest %.3f, highest %.3f; %d of %d rounds above 1)%n",
                    sorted[sorted.length / 2], sorted[0], sorted[sorted.length - 1],
                    Arrays.stream(sorted).filter(v -> v > 1).count(), sorted.length);
            a.close();
            b.close();
            trained.close();
        }
    }

    /** Milliseconds per call, over {@code calls} calls. */
    private static double time(ComputationGraph graph, INDArray x, int calls) {
        long start = System.nanoTime();
        for (int i = 0; i < calls; i++) {
            graph.outputSingle(false, x);
        }
        return (System.nanoTime() - start) / 1e6 / calls;
    }

    private static long fusing(ComputationGraph graph) {
        return Arrays.stream(graph.getLayers())
                .filter(l -> LayerHelpers.helperOf(l) instanceof OneDnnConvolutionHelper h && h.fusedActivations() > 0)
                .count();
    }

    private static long sums(ComputationGraph graph) {
        return Arrays.stream(graph.getVertices()).filter(v -> v instanceof AddReluVertex.Impl).count();
    }

    private static long relus(ComputationGraph graph) {
        return Arrays.stream(graph.getLayers())
                .filter(l -> l.conf().getLayer() instanceof org.deeplearning4j.nn.conf.layers.ActivationLayer).count();
    }
}
