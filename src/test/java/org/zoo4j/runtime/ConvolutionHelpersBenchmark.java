package org.zoo4j.runtime;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.layers.convolution.ConvolutionHelper;
import org.deeplearning4j.nn.layers.mkldnn.MKLDNNConvHelper;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.deeplearning4j.util.ConvolutionUtils;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.memory.conf.WorkspaceConfiguration;
import org.nd4j.linalg.api.memory.enums.AllocationPolicy;
import org.nd4j.linalg.api.memory.enums.LearningPolicy;
import org.nd4j.linalg.api.memory.enums.MirroringPolicy;
import org.nd4j.linalg.api.memory.enums.SpillPolicy;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.zoo4j.Zoo;
import org.zoo4j.bench.BenchNetwork;

/**
 * Per-call times of the convolution helpers on a zoo network's convolution shapes: zoo4j's oneDNN helper
 * ({@link OneDnnConvolutionHelper}), the direct route ({@link DirectConvolutionHelper}) and DL4J's oneDNN helper
 * ({@link MKLDNNConvHelper}), one forward and one backward call each in turn, the order rotating, every call in a
 * workspace as in training; medians (and quartiles) over many rounds, so that a noisy shared machine affects all three
 * alike. Each helper's forward output is its own (no reuse in backprop). Run:
 * <pre>
 * mvn -q -B -DskipTests test-compile dependency:build-classpath -Dmdep.outputFile=target/bench.classpath
 * java -cp "target/test-classes:target/classes:$(cat target/bench.classpath)" \
 *     org.zoo4j.runtime.ConvolutionHelpersBenchmark resnet20 [batch] [seconds per shape] [helpers]
 * </pre>
 */
public final class ConvolutionHelpersBenchmark {
    private static final String WORKSPACE = "ZOO4J_CONV_BENCH";
    private static final WorkspaceConfiguration WORKSPACE_CONFIG = WorkspaceConfiguration.builder()
            .policyAllocation(AllocationPolicy.OVERALLOCATE).overallocationLimit(0.2)
            .policyLearning(LearningPolicy.FIRST_LOOP).policyMirroring(MirroringPolicy.FULL)
            .policySpill(SpillPolicy.REALLOCATE).build();

    private ConvolutionHelpersBenchmark() {
    }

    /** A convolution of the network: input shape, output channels, kernel, stride, padding, mode, and its layers. */
    record Shape(long[] input, long outChannels, int[] kernel, int[] stride, int[] pad, ConvolutionMode mode,
                 boolean bias, List<String> layers) {
        String key() {
            return Arrays.toString(input) + outChannels + Arrays.toString(kernel) + Arrays.toString(stride)
                    + Arrays.toString(pad) + mode + bias;
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%dx%d->%d @%dx%d k%d s%d", input[0], input[1], outChannels, input[2],
                    input[3], kernel[0], stride[0]);
        }
    }

    public static void main(String[] args) {
        Backend.init();
        String name = args.length > 0 ? args[0] : "resnet20";
        BenchNetwork network = BenchNetwork.named(name);
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : network.trainBatch().get(0);
        double seconds = args.length > 2 ? Double.parseDouble(args[2]) : 6;
        List<String> names = List.of((args.length > 3 ? args[3] : "onednn,direct,dl4j").split(","));
        List<Shape> shapes = shapes(network, batch);
        int k = names.size();
        System.out.println(name + " batch " + batch + ", " + shapes.size() + " convolution shapes; " + seconds
                + " s per shape; threads " + Nd4j.getEnvironment().maxMasterThreads() + "; helpers " + names
                + "; median ms per call, helpers in turn; ratios against the first helper's");
        StringBuilder head = new StringBuilder(String.format(Locale.ROOT, "%-24s %2s |", "shape", "n"));
        for (String pass : new String[] {"forward", "backward"}) {
            for (String h : names) {
                head.append(String.format(Locale.ROOT, " %9s", pass.charAt(0) + ":" + abbreviate(h)));
            }
            head.append(" |");
        }
        System.out.println(head + " ratios (first / others): fwd, bwd");
        double[][] total = new double[2][k];
        for (Shape s : shapes) {
            double[][] ms = time(s, seconds, names);
            int n = s.layers().size();
            StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "%-24s %2d |", s, n));
            StringBuilder ratios = new StringBuilder();
            for (int pass = 0; pass < 2; pass++) {
                for (int h = 0; h < k; h++) {
                    total[pass][h] += n * ms[pass][h];
                    row.append(String.format(Locale.ROOT, " %9.2f", ms[pass][h]));
                    if (h > 0) {
                        ratios.append(String.format(Locale.ROOT, " %.2f", ms[pass][0] / ms[pass][h]));
                    }
                }
                row.append(" |");
                ratios.append(pass == 0 ? "," : "");
            }
            System.out.println(row + ratios.toString() + String.format(Locale.ROOT, " (%d rounds)", (long) ms[2][0]));
        }
        StringBuilder sum = new StringBuilder(String.format(Locale.ROOT, "%-24s %2s |", "per step (x layers)", ""));
        StringBuilder ratios = new StringBuilder();
        for (int pass = 0; pass < 2; pass++) {
            for (int h = 0; h < k; h++) {
                sum.append(String.format(Locale.ROOT, " %9.1f", total[pass][h]));
                if (h > 0) {
                    ratios.append(String.format(Locale.ROOT, " %.2f", total[pass][0] / total[pass][h]));
                }
            }
            sum.append(" |");
            ratios.append(pass == 0 ? "," : "");
        }
        System.out.println(sum + ratios.toString());
        StringBuilder both = new StringBuilder("forward + backward per step:");
        for (int h = 0; h < k; h++) {
            both.append(String.format(Locale.ROOT, " %s %.1f ms", names.get(h), total[0][h] + total[1][h]));
        }
        System.out.println(both);
    }

    private static String abbreviate(String helper) {
        return helper.replace("onednn", "odn").replace("direct", "dir");
    }

    /** A helper by name: dl4j (DL4J's oneDNN helper), direct (zoo4j's route before), or a oneDNN variant. */
    static ConvolutionHelper helper(String name) {
        return switch (name) {
            case "dl4j" -> new MKLDNNConvHelper(DataType.FLOAT);
            case "direct" -> new DirectConvolutionHelper(DataType.FLOAT, false);
            default -> new OneDnnConvolutionHelper(DataType.FLOAT, false, false,
                    ConvolutionVariant.named(name));
        };
    }

    /** The network's plain 2D convolutions at this batch size, one entry per distinct shape. */
    static List<Shape> shapes(BenchNetwork network, int batch) {
        ComputationGraph net = Zoo.create(network.model(), network.settings());
        var in = network.config().input();
        Map<String, INDArray> acts = net.feedForward(new INDArray[] {Nd4j.rand(DataType.FLOAT, 2, in.channels(),
                in.height(), in.width())}, false, false);
        Map<String, Shape> byKey = new LinkedHashMap<>();
        for (var entry : net.getConfiguration().getVertexInputs().entrySet()) {
            var layer = net.getLayer(entry.getKey());
            if (layer == null || layer.getClass() != org.deeplearning4j.nn.layers.convolution.ConvolutionLayer.class) {
                continue;
            }
            ConvolutionLayer conf = (ConvolutionLayer) layer.conf().getLayer();
            long[] shape = acts.get(entry.getValue().get(0)).shape().clone();
            shape[0] = batch;
            Shape s = new Shape(shape, conf.getNOut(), conf.getKernelSize(), conf.getStride(), conf.getPadding(),
                    conf.getConvolutionMode(), conf.hasBias(), new ArrayList<>(List.of(entry.getKey())));
            Shape known = byKey.get(s.key());
            if (known != null) {
                known.layers().add(entry.getKey());
            } else {
                byKey.put(s.key(), s);
            }
        }
        return new ArrayList<>(byKey.values());
    }

    /**
     * Median milliseconds per call: [forward][helper], [backward][helper], and [rounds]. Also checks that the helpers
     * agree.
     */
    static double[][] time(Shape s, double seconds, List<String> names) {
        long[] xs = s.input();
        Nd4j.getRandom().setSeed(3);
        INDArray x = Nd4j.randn(DataType.FLOAT, xs);
        INDArray w = Nd4j.randn(DataType.FLOAT, s.outChannels(), xs[1], s.kernel()[0], s.kernel()[1]).muli(0.1);
        INDArray dummyBias = Nd4j.zeros(DataType.FLOAT, 1, s.outChannels());
        int[] dilation = {1, 1};
        int[] out = s.mode() == ConvolutionMode.Same
                ? ConvolutionUtils.getOutputSize(x, s.kernel(), s.stride(), null, s.mode(), dilation, CNN2DFormat.NCHW)
                : ConvolutionUtils.getOutputSize(x, s.kernel(), s.stride(), s.pad(), s.mode(), dilation,
                CNN2DFormat.NCHW);
        int[] pad = s.mode() == ConvolutionMode.Same ? ConvolutionUtils.getSameModeTopLeftPadding(out,
                new int[] {(int) xs[2], (int) xs[3]}, s.kernel(), s.stride(), dilation) : s.pad();
        INDArray dy = Nd4j.randn(DataType.FLOAT, xs[0], s.outChannels(), out[0], out[1]);
        INDArray dw = w.ulike();
        INDArray dbDummy = Nd4j.zeros(DataType.FLOAT, 1, s.outChannels());
        int k = names.size();
        boolean profile = Boolean.getBoolean("zoo4j.bench.profile") && names.get(0).startsWith("onednn");
        ConvolutionHelper[] helpers = names.stream().map(ConvolutionHelpersBenchmark::helper)
                .toArray(ConvolutionHelper[]::new);
        LayerWorkspaceMgr mgr = LayerWorkspaceMgr.builder().defaultWorkspace(WORKSPACE, WORKSPACE_CONFIG).build();
        List<long[]> parts = new ArrayList<>();
        ConvolutionProfile.reset();
        List<double[]> fwd = new ArrayList<>();
        List<double[]> bwd = new ArrayList<>();
        INDArray[] outs = new INDArray[k];
        INDArray[] dxs = new INDArray[k];
        INDArray[] dws = new INDArray[k];
        long end = 0;
        for (int round = -3; round < 10000 && (round < 8 || System.nanoTime() < end); round++) {
            if (round == 0) {
                end = System.nanoTime() + (long) (seconds * 1e9);
            }
            double[] f = new double[k];
            double[] b = new double[k];
            for (int j = 0; j < k; j++) {
                int h = (j + Math.floorMod(round, k)) % k;
                ConvolutionProfile.on = profile && h == 0 && round >= 0;
                try (MemoryWorkspace ignored = open()) {
                    long t0 = System.nanoTime();
                    INDArray o = helpers[h].preOutput(x, w, dummyBias, s.kernel(), s.stride(), pad, null, null,
                            s.mode(), dilation, CNN2DFormat.NCHW, mgr);
                    f[h] = (System.nanoTime() - t0) / 1e6;
                    if (round == -3) {
                        outs[h] = o.detach();
                    }
                }
                try (MemoryWorkspace ignored = open()) {
                    long t0 = System.nanoTime();
                    // as DL4J calls them for a layer without bias: a dummy bias gradient for helpers not of its
                    // own oneDNN kind
                    INDArray dx = helpers[h].backpropGradient(x, w, null, dy, s.kernel(), s.stride(), pad,
                            helpers[h] instanceof MKLDNNConvHelper ? null : dbDummy,
                            dw, new ActivationIdentity(), null, null, null, s.mode(), dilation, CNN2DFormat.NCHW,
                            mgr).getSecond();
                    b[h] = (System.nanoTime() - t0) / 1e6;
                    if (round == -3) {
                        dxs[h] = dx.detach();
                    }
                }
                if (round == -3) {
                    dws[h] = dw.dup();
                }
            }
            ConvolutionProfile.on = false;
            if (round >= 0) {
                fwd.add(f);
                bwd.add(b);
                if (profile) {
                    parts.add(ConvolutionProfile.NANOS.clone());
                    ConvolutionProfile.reset();
                }
            }
        }
        if (profile) {
            StringBuilder p = new StringBuilder("  " + names.get(0) + " per forward+backward, median ms:");
            double[] medians = new double[ConvolutionProfile.Part.values().length];
            for (var part : ConvolutionProfile.Part.values()) {
                medians[part.ordinal()] = parts.stream().mapToDouble(n -> n[part.ordinal()] / 1e6).sorted()
                        .toArray()[parts.size() / 2];
            }
            double sum = Arrays.stream(medians).sum();
            for (var part : ConvolutionProfile.Part.values()) {
                double ms = medians[part.ordinal()];
                p.append(String.format(Locale.ROOT, " %s %.2f (%.0f%%)", part.name().toLowerCase(Locale.ROOT), ms,
                        100 * ms / sum));
            }
            System.out.println(p);
        }
        for (int h = 1; h < k; h++) {
            check(outs[0], outs[h], s + " output");
            check(dxs[0], dxs[h], s + " input gradient");
            check(dws[0], dws[h], s + " weight gradient");
        }
        double[][] result = new double[3][k];
        for (int h = 0; h < k; h++) {
            result[0][h] = median(fwd, h);
            result[1][h] = median(bwd, h);
        }
        result[2][0] = fwd.size();
        if (Boolean.getBoolean("zoo4j.bench.impl")) {
            for (ConvolutionHelper h : helpers) {
                if (h instanceof OneDnnConvolutionHelper o) {
                    System.out.print(o.implementations());
                }
            }
        }
        return result;
    }

    private static void check(INDArray a, INDArray b, String what) {
        double scale = a.amaxNumber().doubleValue();
        double d = a.sub(b).amaxNumber().doubleValue() / scale;
        if (!(d < 1e-4)) {
            throw new IllegalStateException(what + ": the helpers disagree by " + d + " of the largest entry");
        }
    }

    private static double median(List<double[]> samples, int h) {
        double[] v = samples.stream().mapToDouble(s -> s[h]).sorted().toArray();
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    private static MemoryWorkspace open() {
        return Nd4j.getWorkspaceManager().getAndActivateWorkspace(WORKSPACE_CONFIG, WORKSPACE);
    }
}
