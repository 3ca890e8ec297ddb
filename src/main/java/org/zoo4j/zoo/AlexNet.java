package org.zoo4j.zoo;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.weights.IWeightInit;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.zoo4j.base.Checks;
import org.zoo4j.base.InputShape;

/**
 * AlexNet (Krizhevsky et al., 2012), single tower as in torchvision: five convolutions with max pooling after the 1st,
 * 2nd and 5th, then a dropout/dense classifier. Vertex names are torchvision's ({@code features.0},
 * {@code classifier.6}) when neither LRN nor batch norm is switched on. The classifier's input size follows from the
 * input shape (torchvision's adaptive 6x6 pool is the identity at 224x224 and is not reproduced).
 */
public final class AlexNet implements ModelFamily<AlexNet.Config> {
    public static final AlexNet FAMILY = new AlexNet();

    /**
     * @param widths          filters of the five convolutions, before the width multiplier
     * @param conv1Kernel     kernel of the first convolution (11 at 224x224, smaller for small inputs)
     * @param conv1Stride     stride of the first convolution
     * @param conv1Padding    zero padding of the first convolution
     * @param conv2Kernel     kernel of the second convolution (padded to keep the size)
     * @param poolKernel      kernel of the three max pools
     * @param poolStride      stride of the three max pools
     * @param classifier      widths of the hidden dense layers before the output, e.g. [4096, 4096]
     * @param dropout         probability of dropping an input of each hidden dense layer (0 for none)
     * @param lrn             local response normalisation after the first two convolutions, as in the paper
     * @param batchNorm       batch normalisation after every convolution (convolutions then have no bias)
     * @param widthMultiplier scales the convolution widths
     */
    public record Config(InputShape input, int numClasses, long seed, UpdaterSpec updater, WeightInit weightInit,
                         List<Integer> widths, int conv1Kernel, int conv1Stride, int conv1Padding, int conv2Kernel,
                         int poolKernel, int poolStride, List<Integer> classifier, double dropout, boolean lrn,
                         boolean batchNorm, double widthMultiplier) implements ArchitectureConfig {
        void validate() {
            Checks.require(widths != null && widths.size() == 5 && widths.stream().allMatch(w -> w != null && w > 0),
                    "widths", "needs five positive filter counts, got " + widths);
            Checks.require(conv1Kernel >= 1, "conv1Kernel", "must be >= 1, got " + conv1Kernel);
            Checks.require(conv1Stride >= 1, "conv1Stride", "must be >= 1, got " + conv1Stride);
            Checks.require(conv1Padding >= 0, "conv1Padding", "must be >= 0, got " + conv1Padding);
            Checks.require(conv2Kernel >= 1 && conv2Kernel % 2 == 1, "conv2Kernel", "must be odd and >= 1, got " + conv2Kernel);
            Checks.require(poolKernel >= 1, "poolKernel", "must be >= 1, got " + poolKernel);
            Checks.require(poolStride >= 1, "poolStride", "must be >= 1, got " + poolStride);
            Checks.require(classifier != null && classifier.stream().allMatch(w -> w != null && w > 0), "classifier",
                    "must list positive widths (empty for none), got " + classifier);
            Checks.require(dropout >= 0 && dropout < 1, "dropout", "must be in [0, 1), got " + dropout);
            Checks.require(widthMultiplier > 0, "widthMultiplier", "must be > 0, got " + widthMultiplier);
        }

        int width(int i) {
            return Math.max(1, (int) Math.round(widths.get(i) * widthMultiplier));
        }
    }

    public static ModelBuilder<Config> builder(String preset) {
        return new ModelBuilder<>(FAMILY, preset);
    }

    @Override
    public String name() {
        return "alexnet";
    }

    @Override
    public Map<String, Config> presets() {
        List<Integer> widths = List.of(64, 192, 384, 256, 256);
        // PyTorch's default layer initialisation, which torchvision's AlexNet keeps: U(-1/sqrt(fanIn), 1/sqrt(fanIn)).
        // He's (WeightInit.RELU) suits networks with batch norm; through AlexNet's seven layers without it, alexnet-small's
        // first loss was 11.6 (weight decay's term included; a uniform guess's is 2.3) and its recipe (Nesterov, rate
        // 0.01) collapsed to a constant output within its first epoch (validation loss ln 10), where this one trains.
        Map<String, Config> presets = new LinkedHashMap<>();
        presets.put("alexnet", new Config(InputShape.of(3, 224, 224), 1000, ArchitectureConfig.DEFAULT_SEED,
                UpdaterSpec.nesterov(0.01, 0.9), WeightInit.UNIFORM, widths, 11, 4, 2, 5, 3, 2, List.of(4096, 4096), 0.5,
                false, false, 1.0));
        // For 32x32 inputs: a 5x5/1 first convolution keeps the resolution the three pools need.
        presets.put("alexnet-small", new Config(InputShape.of(3, 32, 32), 10, ArchitectureConfig.DEFAULT_SEED,
                UpdaterSpec.nesterov(0.01, 0.9), WeightInit.UNIFORM, widths, 5, 1, 2, 5, 3, 2, List.of(1024, 1024), 0.5,
                false, false, 1.0));
        return presets;
    }

    @Override
    public NetworkLayout define(String model, Config c) {
        c.validate();
        NetworkLayout net = new NetworkLayout(model, c);
        NetworkLayout.Sequential features = new NetworkLayout.Sequential("features");
        String x = convBlock(net, features, NetworkLayout.inputName(), c, 0, c.conv1Kernel(), c.conv1Stride(), c.conv1Padding(), true);
        x = net.maxPool(features.next(), x, c.poolKernel(), c.poolStride(), 0);
        x = convBlock(net, features, x, c, 1, c.conv2Kernel(), 1, c.conv2Kernel() / 2, true);
        x = net.maxPool(features.next(), x, c.poolKernel(), c.poolStride(), 0);
        for (int i = 2; i < 5; i++) {
            x = convBlock(net, features, x, c, i, 3, 1, 1, false);
        }
        x = net.maxPool(features.next(), x, c.poolKernel(), c.poolStride(), 0);
        return classifier(net, x, c.classifier(), c.dropout(), c.numClasses(), false, null);
    }

    /** Convolution, then batch norm (optional), ReLU, LRN (optional, first two convolutions only). */
    private static String convBlock(NetworkLayout net, NetworkLayout.Sequential seq, String in, Config c, int index, int kernel, int stride,
                                    int padding, boolean mayNormalise) {
        String x;
        if (c.batchNorm()) {
            x = net.conv(seq.next(), in, c.width(index), kernel, stride, padding, false, Activation.IDENTITY);
            x = net.batchNorm(seq.next(), x, Activation.RELU);
        } else {
            x = net.conv(seq.next(), in, c.width(index), kernel, stride, padding, true, Activation.RELU);
        }
        seq.skip(1); // the ReLU, fused into the layer before
        if (mayNormalise && c.lrn()) {
            x = net.lrn(seq.next(), x);
        }
        return x;
    }

    /**
     * torchvision's classifier layouts. AlexNet: (Dropout, Linear, ReLU) per hidden layer, then the output Linear. VGG
     * ({@code dropoutAfter}): (Linear, ReLU, Dropout) per hidden layer, then the output Linear. A dropout module keeps
     * its index even at rate 0, so the names with weights never move. DL4J applies dropout to a layer's input, so a
     * dropout module becomes the next dense layer's input dropout. {@code init} initialises the dense layers' weights
     * (null: the network's initialisation).
     */
    static NetworkLayout classifier(NetworkLayout net, String in, List<Integer> hidden, double dropout, int classes,
                                    boolean dropoutAfter, IWeightInit init) {
        NetworkLayout.Sequential seq = new NetworkLayout.Sequential("classifier");
        String x = in;
        double pending = 0;
        for (int units : hidden) {
            if (!dropoutAfter) {
                seq.skip(1);
                pending = dropout;
            }
            x = net.dense(seq.next(), x, units, Activation.RELU, pending, init);
            seq.skip(1);
            pending = 0;
            if (dropoutAfter) {
                seq.skip(1);
                pending = dropout;
            }
        }
        net.output(hidden.isEmpty() ? "classifier" : seq.next(), x, classes, pending, init);
        return net;
    }
}
