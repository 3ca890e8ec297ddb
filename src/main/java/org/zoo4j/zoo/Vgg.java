package org.zoo4j.zoo;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.conf.distribution.NormalDistribution;
import org.deeplearning4j.nn.weights.IWeightInit;
import org.deeplearning4j.nn.weights.WeightInit;
import org.deeplearning4j.nn.weights.WeightInitDistribution;
import org.nd4j.linalg.activations.Activation;
import org.zoo4j.base.Checks;
import org.zoo4j.base.InputShape;

/**
 * VGG (Simonyan and Zisserman, 2015), driven by a table of layer specs as torchvision's {@code cfgs}: a number is a 3x3
 * convolution with that many filters (+ batch norm) + ReLU, "M" a 2x2 max pool. Vertex names are torchvision's
 * ({@code features.0}, {@code classifier.6}). The classifier's input size follows from the input shape (torchvision's
 * adaptive 7x7 pool is the identity at 224x224 and is not reproduced).
 */
public final class Vgg implements ModelFamily<Vgg.Config> {
    public static final Vgg FAMILY = new Vgg();

    /** torchvision's cfgs A, B, D and E by depth (weight layers). */
    static final Map<Integer, String> LAYERS = Map.of(
            11, "64,M,128,M,256,256,M,512,512,M,512,512,M",
            13, "64,64,M,128,128,M,256,256,M,512,512,M,512,512,M",
            16, "64,64,M,128,128,M,256,256,256,M,512,512,512,M,512,512,512,M",
            19, "64,64,M,128,128,M,256,256,256,256,M,512,512,512,512,M,512,512,512,512,M");

    /**
     * @param layers     the feature extractor: comma-separated filter counts of 3x3 convolutions and "M" for 2x2 max pools
     * @param batchNorm  batch normalisation after every convolution
     * @param convBias   convolutions have a bias (torchvision's VGGs do, with batch norm too)
     * @param classifier widths of the hidden dense layers: [4096, 4096] is the ImageNet head, [] a single linear layer
     *                   (the compact head for small inputs)
     * @param dropout    probability of dropping an input of the dense layers after the first (0 for none)
     * @param classifierInitStd standard deviation of the normal distribution (mean 0) the dense layers' weights start
     *                   from, torchvision's 0.01; 0 = weightInit's. With He's on the dense layers too, the logits
     *                   start large (initial loss 9 to 19 against a uniform guess's ln 1000 = 6.9 at 32x32)
     */
    public record Config(InputShape input, int numClasses, long seed, UpdaterSpec updater, WeightInit weightInit,
                         String layers, boolean batchNorm, boolean convBias, List<Integer> classifier, double dropout,
                         double classifierInitStd) implements ArchitectureConfig {
        void validate() {
            Checks.require(layers != null && !layers.isBlank(), "layers", "is required, e.g. " + LAYERS.get(11));
            for (String spec : specs()) {
                Checks.require(spec.equals("M") || spec.matches("[1-9][0-9]*"), "layers",
                        "'" + spec + "' is neither a filter count nor M (in " + layers + ")");
            }
            Checks.require(classifier != null && classifier.stream().allMatch(w -> w != null && w > 0), "classifier",
                    "must list positive widths (empty for a single linear layer), got " + classifier);
            Checks.require(dropout >= 0 && dropout < 1, "dropout", "must be in [0, 1), got " + dropout);
            Checks.require(classifierInitStd >= 0, "classifierInitStd", "must be >= 0 (0: the weightInit setting), got "
                    + classifierInitStd);
        }

        List<String> specs() {
            return List.of(layers.trim().toUpperCase().split("\\s*,\\s*"));
        }
    }

    public static ModelBuilder<Config> builder(String preset) {
        return new ModelBuilder<>(FAMILY, preset);
    }

    @Override
    public String name() {
        return "vgg";
    }

    @Override
    public Map<String, Config> presets() {
        Map<String, Config> presets = new LinkedHashMap<>();
        for (int depth : new int[] {11, 13, 16, 19}) {
            for (boolean bn : new boolean[] {false, true}) {
                presets.put("vgg" + depth + (bn ? "-bn" : ""), new Config(InputShape.of(3, 224, 224), 1000,
                        ArchitectureConfig.DEFAULT_SEED, UpdaterSpec.nesterov(0.01, 0.9), WeightInit.RELU,
                        LAYERS.get(depth), bn, true, List.of(4096, 4096), 0.5, 0.01));
            }
        }
        return presets;
    }

    @Override
    public NetworkLayout define(String model, Config c) {
        c.validate();
        NetworkLayout net = new NetworkLayout(model, c);
        NetworkLayout.Sequential features = new NetworkLayout.Sequential("features");
        String x = NetworkLayout.inputName();
        for (String spec : c.specs()) {
            if (spec.equals("M")) {
                x = net.maxPool(features.next(), x, 2, 2, 0);
                continue;
            }
            int filters = Integer.parseInt(spec);
            if (c.batchNorm()) {
                x = net.conv(features.next(), x, filters, 3, 1, 1, c.convBias(), Activation.IDENTITY);
                x = net.batchNorm(features.next(), x, Activation.RELU);
            } else {
                x = net.conv(features.next(), x, filters, 3, 1, 1, c.convBias(), Activation.RELU);
            }
            features.skip(1); // the ReLU, fused into the layer before
        }
        IWeightInit init = c.classifierInitStd() > 0
                ? new WeightInitDistribution(new NormalDistribution(0, c.classifierInitStd())) : null;
        return AlexNet.classifier(net, x, c.classifier(), c.dropout(), c.numClasses(), true, init);
    }
}
