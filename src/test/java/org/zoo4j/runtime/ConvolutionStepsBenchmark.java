package org.zoo4j.runtime;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.zoo4j.Zoo;
import org.zoo4j.bench.BenchNetwork;

/**
 * Training steps of one zoo network with each convolution path ({@value LayerHelpers#CONVOLUTION}: onednn, direct,
 * dl4j; zoo4j's batch-norm and ReLU helpers in all of them), copies with the same weights in one process, a step
 * each in turn with the order rotating, on random batches: median step time per path and the quartiles of the
 * per-step ratio against the first path. What {@code ./zoo4j bench --mode helpers} does for zoo4j's helpers against
 * DL4J's, here for the convolution paths alone. A path may carry other settings for its copy, read when its helpers
 * are installed: {@code onednn:zoo4j.fuseRelu=false} is the oneDNN path with each ReLU's forward pass apart. Run:
 * <pre>
 * mvn -q -B -DskipTests test-compile dependency:build-classpath -Dmdep.outputFile=target/bench.classpath
 * java -cp "target/test-classes:target/classes:$(cat target/bench.classpath)" \
 *     org.zoo4j.runtime.ConvolutionStepsBenchmark resnet20 [batch] [steps] [paths, default onednn,direct,dl4j]
 * </pre>
 */
public final class ConvolutionStepsBenchmark {
    private ConvolutionStepsBenchmark() {
    }

    public static void main(String[] args) {
        Backend.init();
        String name = args.length > 0 ? args[0] : "resnet20";
        BenchNetwork network = BenchNetwork.named(name);
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : network.trainBatch().get(0);
        int steps = args.length > 2 ? Integer.parseInt(args[2]) : 40;
        List<String> paths = List.of((args.length > 3 ? args[3] : "onednn,direct,dl4j").split(","));
        ComputationGraph base = Zoo.create(network.model(), network.settings());
        List<ComputationGraph> nets = new ArrayList<>();
        for (String path : paths) {
            ComputationGraph net = base.clone();
            String[] parts = path.split(":");
            List<String[]> settings = new ArrayList<>();
            settings.add(new String[] {LayerHelpers.CONVOLUTION, parts[0]});
            for (int i = 1; i < parts.length; i++) {
                settings.add(parts[i].split("=", 2));
            }
            List<String> before = new ArrayList<>();
            for (String[] setting : settings) {
                before.add(System.getProperty(setting[0]));
                System.setProperty(setting[0], setting[1]);
            }
            try {
                LayerHelpers.install(net);
            } finally {
                for (int i = 0; i < settings.size(); i++) {
                    if (before.get(i) == null) {
                        System.clearProperty(settings.get(i)[0]);
                    } else {
                        System.setProperty(settings.get(i)[0], before.get(i));
                    }
                }
            }
            nets.add(net);
        }
        var in = network.config().input();
        int classes = (int) base.getOutputLayer(0).getParam("W").size(1);
        Nd4j.getRandom().setSeed(42);
        List<DataSet> batches = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            INDArray x = Nd4j.rand(DataType.FLOAT, batch, in.channels(), in.height(), in.width());
            INDArray y = Nd4j.zeros(DataType.FLOAT, batch, classes);
            for (int r = 0; r < batch; r++) {
                y.putScalar(r, (r * 7 + i) % classes, 1.0);
            }
            batches.add(new DataSet(x, y));
        }
        int k = paths.size();
        int warmup = Math.max(3, steps / 8);
        double[][] ms = new double[k][steps];
        for (int s = -warmup; s < steps; s++) {
            DataSet ds = batches.get(Math.floorMod(s, batches.size()));
            for (int j = 0; j < k; j++) {
                int h = (j + Math.floorMod(s, k)) % k;
                long t0 = System.nanoTime();
                nets.get(h).fit(ds);
                double t = (System.nanoTime() - t0) / 1e6;
                if (s >= 0) {
                    ms[h][s] = t;
                }
            }
        }
        System.out.println(String.format(Locale.ROOT, "%s batch %d, %d steps each after %d warm-up, threads %d, "
                        + "paths in turn: %s (dnnl natives: %s)", name, batch, steps, warmup,
                Nd4j.getEnvironment().maxMasterThreads(), paths,
                OneDnn.available() ? "oneDNN " + OneDnn.version() : "not loaded, " + OneDnn.failure()));
        for (int h = 0; h < k; h++) {
            double[] sorted = ms[h].clone();
            Arrays.sort(sorted);
            String ratio = "";
            if (h > 0) {
                double[] r = new double[steps];
                for (int s = 0; s < steps; s++) {
                    r[s] = ms[h][s] / ms[0][s];
                }
                Arrays.sort(r);
                ratio = String.format(Locale.ROOT, "; step time / %s's: median %.3f (quartiles %.3f..%.3f)",
                        paths.get(0), r[steps / 2], r[steps / 4], r[3 * steps / 4]);
            }
            System.out.println(String.format(Locale.ROOT, "  %-8s median %8.1f ms/step (quartiles %.1f..%.1f), "
                            + "%6.1f images/s%s", paths.get(h), sorted[steps / 2], sorted[steps / 4],
                    sorted[3 * steps / 4], 1000.0 * batch / sorted[steps / 2], ratio));
        }
        long kept = 0;
        for (ComputationGraph net : nets) {
            for (var layer : net.getLayers()) {
                if (LayerHelpers.helperOf(layer) instanceof OneDnnConvolutionHelper helper) {
                    kept += helper.helperMemoryUse().values().stream().mapToLong(Long::longValue).sum();
                }
            }
        }
        System.out.println(String.format(Locale.ROOT, "  memory: the oneDNN helpers' scratch buffers (this thread) "
                        + "%.1f MB, their kept forward-layout weights %.1f MB; process resident %s, peak %s",
                OneDnn.available() ? OneDnn.scratch().bytesHeld() / 1048576.0 : 0, kept / 1048576.0,
                status("VmRSS"), status("VmHWM")));
    }

    private static String status(String field) {
        try {
            return Files.readAllLines(Path.of("/proc/self/status")).stream()
                    .filter(l -> l.startsWith(field + ":")).map(l -> l.substring(field.length() + 1).trim())
                    .findFirst().orElse("?");
        } catch (IOException e) {
            return "?";
        }
    }
}
