package org.zoo4j.runtime;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Times the two backward passes {@link DirectConvolutionHelper} chooses between, on the shapes of a network's 3x3
 * stride-1 convolutions: libnd4j's {@code conv2d_bp} (oneDNN's choice of algorithm, Winograd on AVX-512 CPUs) and
 * the direct route ({@code deconv2d} for the input gradient, {@code deconv2d_bp} for the weight gradient). Its rule
 * (direct where there are at most 16 input channels or at most 7x7 pixels) was measured on one CPU; this shows
 * whether it holds on another.
 */
public final class ConvolutionRoutes {
    private ConvolutionRoutes() {
    }

    /**
     * One convolution shape: the layers that have it, the best-of-three milliseconds per backward pass of each route
     * on random arrays, and whether the helper takes the direct route there.
     */
    public record Route(List<String> layers, long batch, long inChannels, long outChannels, long height, long width,
                        double oneDnnMs, double directMs, boolean directTaken) {
        /** Whether the helper takes the route that was the faster here. */
        public boolean choiceFaster() {
            return directTaken == (directMs < oneDnnMs);
        }
    }

    /** Whether oneDNN may pick Winograd on this CPU at all (else both routes are direct and nothing is measured). */
    public static boolean winogradCpu() {
        return DirectConvolutionHelper.WINOGRAD_CPU;
    }

    /** The routes of {@code net}'s Winograd-eligible convolutions for inputs like {@code sample} (NCHW). */
    public static List<Route> measure(ComputationGraph net, INDArray sample) {
        Map<String, INDArray> activations = net.feedForward(new INDArray[] {sample}, false, false);
        Map<String, Route> byShape = new LinkedHashMap<>();
        for (var entry : net.getConfiguration().getVertexInputs().entrySet()) {
            String name = entry.getKey();
            if (!(net.getLayer(name) != null
                    && net.getLayer(name).conf().getLayer() instanceof ConvolutionLayer conf)
                    || net.getLayer(name).getClass() != org.deeplearning4j.nn.layers.convolution.ConvolutionLayer.class) {
                continue;
            }
            INDArray in = activations.get(entry.getValue().get(0));
            if (!eligible(conf, in)) {
                continue;
            }
            String key = in.size(0) + "x" + in.size(1) + "x" + conf.getNOut() + "x" + in.size(2) + "x" + in.size(3);
            Route known = byShape.get(key);
            if (known != null) {
                known.layers().add(name);
                continue;
            }
            byShape.put(key, time(name, in.shape(), conf.getNOut()));
        }
        return new ArrayList<>(byShape.values());
    }

    private static boolean eligible(ConvolutionLayer conf, INDArray in) {
        return in != null && in.rank() == 4 && conf.getCnn2dDataFormat() == CNN2DFormat.NCHW
                && conf.getKernelSize()[0] == 3 && conf.getKernelSize()[1] == 3 && conf.getStride()[0] == 1
                && conf.getStride()[1] == 1 && conf.getDilation()[0] == 1 && conf.getDilation()[1] == 1
                && (conf.getConvolutionMode() == ConvolutionMode.Same
                || (conf.getPadding()[0] == 1 && conf.getPadding()[1] == 1))
                && in.size(1) % 16 == 0 && conf.getNOut() % 16 == 0;
    }

    private static Route time(String layer, long[] inShape, long outChannels) {
        Nd4j.getRandom().setSeed(1);
        INDArray x = Nd4j.randn(DataType.FLOAT, inShape);
        INDArray dy = Nd4j.randn(DataType.FLOAT, inShape[0], outChannels, inShape[2], inShape[3]);
        INDArray w = Nd4j.randn(DataType.FLOAT, outChannels, inShape[1], 3, 3);
        INDArray dx = x.ulike();
        INDArray dw = w.ulike();
        INDArray unused = dy.ulike();
        long[] args = {3, 3, 1, 1, 1, 1, 1, 1, 0, 0, 1};
        Runnable oneDnn = () -> DirectConvolutionHelper.run("conv2d_bp", args, new INDArray[] {x, w, dy},
                new INDArray[] {dx, dw});
        Runnable direct = () -> {
            DirectConvolutionHelper.run("deconv2d", args, new INDArray[] {dy, w}, new INDArray[] {dx});
            DirectConvolutionHelper.run("deconv2d_bp", args, new INDArray[] {dy, w, x}, new INDArray[] {unused, dw});
        };
        double flops = 2.0 * 2 * 9 * inShape[0] * inShape[1] * outChannels * inShape[2] * inShape[3];
        int reps = (int) Math.max(2, Math.min(50, 2e9 / flops)); // about a second of work per route
        double a = Double.MAX_VALUE;
        double b = Double.MAX_VALUE;
        oneDnn.run();
        direct.run();
        for (int round = 0; round < 3; round++) { // alternating, best of three: the machine's noise is one-sided
            a = Math.min(a, millis(oneDnn, reps));
            b = Math.min(b, millis(direct, reps));
        }
        boolean taken = DirectConvolutionHelper.directPadding(new int[] {3, 3}, new int[] {1, 1}, new int[] {1, 1},
                ConvolutionMode.Truncate, new int[] {1, 1}, CNN2DFormat.NCHW, x, w, dy) != null;
        return new Route(new ArrayList<>(List.of(layer)), inShape[0], inShape[1], outChannels, inShape[2], inShape[3],
                a, b, taken);
    }

    private static double millis(Runnable r, int reps) {
        long start = System.nanoTime();
        for (int i = 0; i < reps; i++) {
            r.run();
        }
        return (System.nanoTime() - start) / 1e6 / reps;
    }
}
