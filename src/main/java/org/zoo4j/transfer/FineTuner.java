package org.zoo4j.transfer;

import static org.nd4j.linalg.indexing.NDArrayIndex.all;
import static org.nd4j.linalg.indexing.NDArrayIndex.point;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.vertex.GraphVertex;
import org.deeplearning4j.nn.transferlearning.TransferLearning;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.zoo4j.base.ConfigException;
import org.zoo4j.data.Normalization;
import org.zoo4j.data.NormalizationMode;
import org.zoo4j.modelfile.ModelFile;
import org.zoo4j.recipe.FinetuneSettings;

/**
 * Starts a network from a trained one, for a new task.
 *
 * <p>The new network is built from the recipe (the same architecture, with the new number of classes and possibly
 * another input shape) and takes the trained weights layer by layer, by name:
 * <ul>
 *   <li>the head (the output layer) keeps its fresh initialisation: it is replaced for the new classes;</li>
 *   <li>the first convolution is adapted when the number of input channels differs (see {@link #adaptInputConv});</li>
 *   <li>every other parameter must have the same shape. A different input size therefore works for models whose head
 *       follows a global pooling (ResNets) and is refused, with the reason, where a flatten + dense layer depends on
 *       the input size (LeNet-5, AlexNet, VGG).</li>
 * </ul>
 * Layers up to {@link FinetuneSettings#freezeUntil()} (or all but the head, for a feature extractor) are then frozen with
 * DL4J's transfer-learning builder: their parameters, batch-norm running statistics included, never change. The head
 * can have its own learning rate. The data keeps the source model's normaliser unless asked to refit
 * ({@link #sourceNormalization}).
 */
public final class FineTuner {
    private FineTuner() {
    }

    /**
     * {@code fresh} (a newly initialised network of the target configuration) with the trained weights of
     * {@code settings.from()} copied in, frozen and with the head's learning rate as {@code settings} say.
     */
    public static ComputationGraph apply(FinetuneSettings settings, ComputationGraph fresh) {
        Path from;
        ModelFile.Loaded trained;
        try {
            from = source(settings);
            trained = ModelFile.load(from, false, new ModelFile.Trust(settings.allowUnverified(), settings.sha256()));
        } catch (IOException e) {
            throw new UncheckedIOException("finetune.from: cannot read " + settings.from() + ": " + e.getMessage(), e);
        }
        copyWeights(trained.net(), fresh, from.toString());
        List<String> frozen = frozenLayers(fresh, settings);
        ComputationGraph net = frozen.isEmpty() ? fresh
                : new TransferLearning.GraphBuilder(fresh).setFeatureExtractor(frozen.toArray(String[]::new)).build();
        if (settings.headLearningRate() != null) {
            net.setLearningRate(head(net), settings.headLearningRate());
        }
        return net;
    }

    /** The model file fine-tuned from: a path, or a shipped model's name ({@link PretrainedWeights#resolve}). */
    static Path source(FinetuneSettings settings) throws IOException {
        return PretrainedWeights.resolve(settings.from(), new WeightsCache(WeightsCache.defaultRoot(), null));
    }

    /**
     * The normaliser the fine-tuned network's data should use: the source model's, kept (its weights were trained on
     * inputs normalised by it), unless {@code refitNormalization} asks for a new one (then empty: fit on the new data).
     * For another channel count, per-channel statistics follow {@link #adaptInputConv}: from 1 channel they are
     * repeated (a grey image repeated over the channels is normalised as before); to 1 channel they are averaged (an
     * approximation: a grey image is no RGB image). Empty also where the source file has no normaliser.
     */
    public static Optional<Normalization> sourceNormalization(FinetuneSettings settings, int channels)
            throws IOException {
        if (settings.refitNormalization()) {
            return Optional.empty();
        }
        Optional<Normalization> kept = Normalization.readFrom(source(settings));
        if (kept.isEmpty() || kept.get().mode() != NormalizationMode.STANDARDIZE
                || kept.get().channels() == channels) {
            return kept;
        }
        double[] mean = kept.get().mean();
        double[] std = kept.get().std();
        if (channels == 1) {
            return Optional.of(Normalization.standardize(new double[] {Arrays.stream(mean).average().orElseThrow()},
                    new double[] {Arrays.stream(std).average().orElseThrow()}));
        }
        double[] m = new double[channels];
        double[] sd = new double[channels];
        for (int c = 0; c < channels; c++) {
            m[c] = mean[c % mean.length];
            sd[c] = std[c % std.length];
        }
        return Optional.of(Normalization.standardize(m, sd));
    }

    /** The name of the output layer: the head that fine-tuning replaces. */
    public static String head(ComputationGraph net) {
        return net.getConfiguration().getNetworkOutputs().get(0);
    }

    /** The layers in topological order: the names {@code --freeze-until} accepts. */
    public static List<String> layersInOrder(ComputationGraph net) {
        GraphVertex[] vertices = net.getVertices();
        List<String> names = new ArrayList<>();
        for (int index : net.topologicalSortOrder()) {
            if (vertices[index].hasLayer()) {
                names.add(vertices[index].getVertexName());
            }
        }
        return names;
    }

    private static List<String> frozenLayers(ComputationGraph net, FinetuneSettings settings) {
        List<String> order = layersInOrder(net);
        String head = head(net);
        if (settings.featureExtractor()) {
            return order.subList(0, order.indexOf(head));
        }
        if (settings.freezeUntil() == null) {
            return List.of();
        }
        int last = order.indexOf(settings.freezeUntil());
        if (last < 0) {
            throw new ConfigException("freezeUntil: no layer named '" + settings.freezeUntil() + "'; the layers "
                    + "in order are " + order);
        }
        if (settings.freezeUntil().equals(head)) {
            throw new ConfigException("freezeUntil: '" + head + "' is the head, which fine-tuning replaces and "
                    + "trains; freeze at most up to the layer before it (or use featureExtractor)");
        }
        return order.subList(0, last + 1);
    }

    /** Copies the trained parameters into {@code target} by layer name and parameter key; see the class comment. */
    static void copyWeights(ComputationGraph trained, ComputationGraph target, String source) {
        String head = head(target);
        String firstConv = firstConvolution(target);
        for (Layer layer : target.getLayers()) {
            String name = layer.conf().getLayer().getLayerName();
            if (name.equals(head)) {
                continue;
            }
            Layer from;
            try {
                from = trained.getLayer(name);
            } catch (RuntimeException e) {
                from = null;
            }
            if (from == null) {
                throw new WeightsException(source + " has no layer '" + name + "': it is another architecture; "
                        + "fine-tune the model its card names, with its settings");
            }
            Map<String, INDArray> fromParams = from.paramTable();
            for (Map.Entry<String, INDArray> p : layer.paramTable().entrySet()) {
                INDArray value = fromParams.get(p.getKey());
                INDArray dst = p.getValue();
                if (value == null) {
                    throw new WeightsException(source + ": layer '" + name + "' has no parameter " + p.getKey()
                            + "; it is another architecture");
                }
                if (Arrays.equals(value.shape(), dst.shape())) {
                    dst.assign(value);
                } else if (name.equals(firstConv) && p.getKey().equals("W") && sameExceptInputChannels(value, dst)) {
                    dst.assign(adaptInputConv(value, (int) dst.size(1)));
                } else {
                    throw new WeightsException(source + ": layer '" + name + "' parameter " + p.getKey()
                            + " has shape " + Arrays.toString(value.shape()) + " but the new network needs "
                            + Arrays.toString(dst.shape()) + ". " + (value.rank() == 2
                            ? "This dense layer follows a flatten whose size depends on the input size, so this model "
                            + "cannot change its input size by fine-tuning: keep the trained model's input size (its "
                            + "card says which), or replace everything after the last convolution"
                            : "Only the first convolution adapts to another channel count; keep the architecture "
                            + "settings of the trained model"));
                }
            }
        }
    }

    private static boolean sameExceptInputChannels(INDArray a, INDArray b) {
        return a.rank() == 4 && b.rank() == 4 && a.size(0) == b.size(0) && a.size(2) == b.size(2)
                && a.size(3) == b.size(3);
    }

    /** The convolution that reads the network input directly, or null. */
    private static String firstConvolution(ComputationGraph net) {
        String input = net.getConfiguration().getNetworkInputs().get(0);
        for (Map.Entry<String, org.deeplearning4j.nn.conf.graph.GraphVertex> v
                : net.getConfiguration().getVertices().entrySet()) {
            if (v.getValue() instanceof LayerVertex lv
                    && lv.getLayerConf().getLayer() instanceof ConvolutionLayer
                    && net.getConfiguration().getVertexInputs().get(v.getKey()).equals(List.of(input))) {
                return v.getKey();
            }
        }
        return null;
    }

    /**
     * The weights {@code [out, in, kH, kW]} of a first convolution adapted to {@code channels} input channels so that
     * a grey image repeated over the channels gives the same activations (timm's {@code adapt_input_conv} rule):
     * to 1 channel the weights are summed over the input channels; to more channels they are repeated cyclically and
     * scaled by {@code in / channels}.
     */
    public static INDArray adaptInputConv(INDArray weights, int channels) {
        if (weights.rank() != 4) {
            throw new IllegalArgumentException("adaptInputConv: expected convolution weights [out, in, kH, kW], got "
                    + Arrays.toString(weights.shape()));
        }
        if (channels < 1) {
            throw new IllegalArgumentException("adaptInputConv: channels must be at least 1, got " + channels);
        }
        long in = weights.size(1);
        if (channels == in) {
            return weights.dup();
        }
        if (channels == 1) {
            return weights.sum(true, 1);
        }
        INDArray out = Nd4j.create(weights.dataType(), weights.size(0), channels, weights.size(2), weights.size(3));
        for (int c = 0; c < channels; c++) {
            out.get(all(), point(c),
                            all(), all())
                    .assign(weights.get(all(),
                            point(c % in),
                            all(), all()));
        }
        return out.muli((double) in / channels);
    }
}
