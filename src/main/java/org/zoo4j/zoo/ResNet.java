package org.zoo4j.zoo;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.zoo4j.base.Checks;
import org.zoo4j.base.InputShape;

/**
 * ResNet with skip connections (He et al., 2016): basic and bottleneck blocks, the ImageNet networks (7x7 stem and max
 * pool, four stages) and the CIFAR networks (3x3 stem, three stages of 6n+2 layers). Vertex names are torchvision's
 * ({@code conv1}, {@code layer2.0.conv1}, {@code layer2.0.downsample.0}, {@code fc}); the bottleneck puts its stride on
 * the 3x3 convolution, as torchvision does.
 */
public final class ResNet implements ModelFamily<ResNet.Config> {
    public static final ResNet FAMILY = new ResNet();

    /** Where the network starts and how many stages it has. */
    public enum Style {
        /** 7x7/2 convolution and 3x3/2 max pool, four stages (ImageNet). */
        IMAGENET,
        /** 3x3/1 convolution, three stages (CIFAR, Section 4.2 of the paper). */
        CIFAR
    }

    /** The residual unit. */
    public enum Block {
        /** Two 3x3 convolutions. */
        BASIC(1),
        /** 1x1, 3x3, 1x1 convolutions; the block's output has 4x the stage width. */
        BOTTLENECK(4);

        final int expansion;

        Block(int expansion) {
            this.expansion = expansion;
        }
    }

    /** The shortcut where a block changes the resolution or the channel count; elsewhere it is the identity. */
    public enum Shortcut {
        /** Parameter-free: subsample and pad the new channels with zeros (the paper's option A, its CIFAR networks). */
        A,
        /** 1x1 convolution and batch norm (option B, the ImageNet networks). */
        B
    }

    /** Blocks per stage for the ImageNet depths, as in Table 1 of the paper. */
    static final Map<Integer, List<Integer>> IMAGENET_STAGES = Map.of(
            18, List.of(2, 2, 2, 2), 34, List.of(3, 4, 6, 3), 50, List.of(3, 4, 6, 3),
            101, List.of(3, 4, 23, 3), 152, List.of(3, 8, 36, 3));

    /**
     * @param style          IMAGENET or CIFAR
     * @param depth          weight layers: 18, 34 (basic), 50, 101, 152 (bottleneck) for IMAGENET; 6n+2 for CIFAR
     * @param widths         stage widths (the bottleneck's inner width): 64,128,256,512 (IMAGENET), 16,32,64 (CIFAR)
     * @param shortcut       A (parameter-free, basic blocks only) or B (projection)
     * @param zeroInitLastBn start each block's last batch-norm scale at zero, so that every block starts as the identity
     */
    public record Config(InputShape input, int numClasses, long seed, UpdaterSpec updater, WeightInit weightInit,
                         Style style, int depth, List<Integer> widths, Shortcut shortcut, boolean zeroInitLastBn)
            implements ArchitectureConfig {
        void validate() {
            Checks.require(style != null, "style", "is required (IMAGENET or CIFAR)");
            Checks.require(shortcut != null, "shortcut", "is required (A or B)");
            if (style == Style.IMAGENET) {
                Checks.require(IMAGENET_STAGES.containsKey(depth), "depth",
                        "an IMAGENET ResNet has depth 18, 34, 50, 101 or 152, got " + depth);
            } else {
                Checks.require(depth >= 8 && (depth - 2) % 6 == 0, "depth",
                        "a CIFAR ResNet has depth 6n+2 with n >= 1 (20, 32, 44, 56, 110, ...), got " + depth);
            }
            int stages = style == Style.IMAGENET ? 4 : 3;
            Checks.require(widths != null && widths.size() == stages && widths.stream().allMatch(w -> w != null && w > 0),
                    "widths", "a " + style + " ResNet needs " + stages + " positive stage widths, got " + widths);
            Checks.require(shortcut == Shortcut.B || block() == Block.BASIC, "shortcut",
                    "option A (zero padding) is defined for basic blocks only; depth " + depth + " uses bottlenecks");
            for (int i = 1; i < stages && shortcut == Shortcut.A; i++) {
                Checks.require(widths.get(i) == 2 * widths.get(i - 1), "widths", "shortcut A (zero padding) needs each "
                        + "stage to double the width of the one before, got " + widths + "; use shortcut B");
            }
            if (style == Style.IMAGENET && shortcut == Shortcut.A) {
                Checks.require(widths.get(0) == 64, "widths", "shortcut A needs the first stage to keep the stem's 64 "
                        + "channels, got " + widths.get(0) + "; use shortcut B");
            }
        }

        Block block() {
            return style == Style.IMAGENET && depth >= 50 ? Block.BOTTLENECK : Block.BASIC;
        }

        List<Integer> blocksPerStage() {
            if (style == Style.IMAGENET) {
                return IMAGENET_STAGES.get(depth);
            }
            int n = (depth - 2) / 6;
            return List.of(n, n, n);
        }
    }

    public static ModelBuilder<Config> builder(String preset) {
        return new ModelBuilder<>(FAMILY, preset);
    }

    @Override
    public String name() {
        return "resnet";
    }

    @Override
    public Map<String, Config> presets() {
        Map<String, Config> presets = new LinkedHashMap<>();
        for (int depth : new int[] {18, 34, 50, 101, 152}) {
            presets.put("resnet" + depth, new Config(InputShape.of(3, 224, 224), 1000, ArchitectureConfig.DEFAULT_SEED,
                    UpdaterSpec.nesterov(0.1, 0.9), WeightInit.RELU, Style.IMAGENET, depth, List.of(64, 128, 256, 512),
                    Shortcut.B, false));
        }
        for (int depth : new int[] {20, 32, 44, 56, 110}) {
            presets.put("resnet" + depth, new Config(InputShape.of(3, 32, 32), 10, ArchitectureConfig.DEFAULT_SEED,
                    UpdaterSpec.nesterov(0.1, 0.9), WeightInit.RELU, Style.CIFAR, depth, List.of(16, 32, 64),
                    Shortcut.A, false));
        }
        return presets;
    }

    @Override
    public NetworkLayout define(String model, Config c) {
        c.validate();
        NetworkLayout net = new NetworkLayout(model, c);
        String x;
        int channels;
        if (c.style() == Style.IMAGENET) {
            channels = 64;
            x = net.conv("conv1", NetworkLayout.inputName(), channels, 7, 2, 3, false, Activation.IDENTITY);
            x = net.batchNorm("bn1", x, Activation.RELU);
            x = net.maxPool("maxpool", x, 3, 2, 1);
        } else {
            channels = c.widths().get(0);
            x = net.conv("conv1", NetworkLayout.inputName(), channels, 3, 1, 1, false, Activation.IDENTITY);
            x = net.batchNorm("bn1", x, Activation.RELU);
        }
        List<Integer> stages = c.blocksPerStage();
        for (int s = 0; s < stages.size(); s++) {
            for (int b = 0; b < stages.get(s); b++) {
                int stride = s > 0 && b == 0 ? 2 : 1;
                String name = "layer" + (s + 1) + "." + b;
                x = c.block() == Block.BASIC
                        ? basicBlock(net, name, x, c.widths().get(s), stride, c.shortcut())
                        : bottleneckBlock(net, name, x, c.widths().get(s), stride);
            }
        }
        x = net.globalAvgPool("avgpool", x);
        net.output("fc", x, c.numClasses(), 0);
        return net;
    }

    /** conv3x3-BN-ReLU-conv3x3-BN, plus the shortcut, then ReLU. */
    static String basicBlock(NetworkLayout net, String name, String in, int width, int stride, Shortcut shortcut) {
        String y = net.conv(name + ".conv1", in, width, 3, stride, 1, false, Activation.IDENTITY);
        y = net.batchNorm(name + ".bn1", y, Activation.RELU);
        y = net.conv(name + ".conv2", y, width, 3, 1, 1, false, Activation.IDENTITY);
        y = net.batchNorm(name + ".bn2", y, Activation.IDENTITY);
        return join(net, name, in, y, width, stride, shortcut);
    }

    /** conv1x1-BN-ReLU-conv3x3(stride)-BN-ReLU-conv1x1(4x)-BN, plus the shortcut, then ReLU. */
    static String bottleneckBlock(NetworkLayout net, String name, String in, int width, int stride) {
        int out = width * Block.BOTTLENECK.expansion;
        String y = net.conv(name + ".conv1", in, width, 1, 1, 0, false, Activation.IDENTITY);
        y = net.batchNorm(name + ".bn1", y, Activation.RELU);
        y = net.conv(name + ".conv2", y, width, 3, stride, 1, false, Activation.IDENTITY);
        y = net.batchNorm(name + ".bn2", y, Activation.RELU);
        y = net.conv(name + ".conv3", y, out, 1, 1, 0, false, Activation.IDENTITY);
        y = net.batchNorm(name + ".bn3", y, Activation.IDENTITY);
        return join(net, name, in, y, out, stride, Shortcut.B);
    }

    /** Adds the shortcut of {@code in} to the residual {@code y}; a projection exactly where stride or width change. */
    private static String join(NetworkLayout net, String name, String in, String y, int out, int stride, Shortcut shortcut) {
        String identity = in;
        if (stride != 1 || net.shape(in).channels() != out) {
            if (shortcut == Shortcut.B) {
                identity = net.conv(name + ".downsample.0", in, out, 1, stride, 0, false, Activation.IDENTITY);
                identity = net.batchNorm(name + ".downsample.1", identity, Activation.IDENTITY);
            } else {
                identity = net.subsampleAndZeroPad(name + ".shortcut", in, stride, out);
            }
        }
        String sum = net.sum(name + ".add", y, identity);
        return net.activation(name + ".relu", sum, Activation.RELU);
    }

    /** Zero-init of the last batch-norm scale of every block (Goyal et al., 2017), when asked for. */
    @Override
    public void initialize(Config c, ComputationGraph graph) {
        if (!c.zeroInitLastBn()) {
            return;
        }
        String last = c.block() == Block.BASIC ? "bn2" : "bn3";
        List<Integer> stages = c.blocksPerStage();
        for (int s = 0; s < stages.size(); s++) {
            for (int b = 0; b < stages.get(s); b++) {
                graph.getParam("layer" + (s + 1) + "." + b + "." + last + "_gamma").assign(0);
            }
        }
    }
}
