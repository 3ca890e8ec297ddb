package org.zoo4j.zoo;

import java.util.Map;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.zoo4j.base.Checks;
import org.zoo4j.base.InputShape;

/**
 * LeNet-5 (LeCun et al., 1998): conv5x5(6) - pool - conv5x5(16) - pool - fc120 - fc84 - output. Names follow the usual
 * PyTorch LeNet: conv1, conv2, fc1, fc2, fc3.
 */
public final class LeNet5 implements ModelFamily<LeNet5.Config> {
    public static final LeNet5 FAMILY = new LeNet5();

    /** The paper's input side: 28x28 digits were centred in 32x32 images. */
    private static final int PAPER_SIZE = 32;

    /** Subsampling of the two pooling layers. */
    public enum Pooling { MAX, AVG }

    /**
     * @param activation  activation of the hidden layers: RELU (the modern choice, the preset) or TANH (the paper's)
     * @param pooling     MAX (the preset) or AVG (the paper's subsampling)
     * @param conv1Padding zero padding of the first convolution; null pads inputs smaller than 32 up to the paper's
     *                     32x32 (2 for 28x28 inputs), 0 otherwise
     */
    public record Config(InputShape input, int numClasses, long seed, UpdaterSpec updater, WeightInit weightInit,
                         Activation activation, Pooling pooling, Integer conv1Padding) implements ArchitectureConfig {
        void validate() {
            Checks.require(activation != null, "activation", "is required (RELU or TANH)");
            Checks.require(pooling != null, "pooling", "is required (MAX or AVG)");
            Checks.require(conv1Padding == null || conv1Padding >= 0, "conv1Padding", "must be >= 0, got " + conv1Padding);
        }

        int firstPadding() {
            if (conv1Padding != null) {
                return conv1Padding;
            }
            return Math.max(0, (PAPER_SIZE - Math.min(input.height(), input.width()) + 1) / 2);
        }
    }

    public static ModelBuilder<Config> builder() {
        return new ModelBuilder<>(FAMILY, "lenet5");
    }

    @Override
    public String name() {
        return "lenet";
    }

    @Override
    public Map<String, Config> presets() {
        return Map.of("lenet5", new Config(InputShape.of(1, 28, 28), 10, ArchitectureConfig.DEFAULT_SEED,
                UpdaterSpec.adam(1e-3), WeightInit.XAVIER, Activation.RELU, Pooling.MAX, null));
    }

    @Override
    public NetworkLayout define(String model, Config c) {
        c.validate();
        NetworkLayout net = new NetworkLayout(model, c);
        String x = net.conv("conv1", NetworkLayout.inputName(), 6, 5, 1, c.firstPadding(), true, c.activation());
        x = pool(net, "pool1", x, c.pooling());
        x = net.conv("conv2", x, 16, 5, 1, 0, true, c.activation());
        x = pool(net, "pool2", x, c.pooling());
        x = net.dense("fc1", x, 120, c.activation(), 0);
        x = net.dense("fc2", x, 84, c.activation(), 0);
        net.output("fc3", x, c.numClasses(), 0);
        return net;
    }

    private static String pool(NetworkLayout net, String name, String in, Pooling pooling) {
        return pooling == Pooling.MAX ? net.maxPool(name, in, 2, 2, 0) : net.avgPool(name, in, 2, 2, 0);
    }
}
