package org.zoo4j.runtime;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Predicate;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.misc.FrozenLayer;
import org.deeplearning4j.nn.conf.layers.misc.FrozenLayerWithBackprop;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.params.BatchNormalizationParamInitializer;
import org.deeplearning4j.nn.params.ConvolutionParamInitializer;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.activations.impl.ActivationReLU;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * A copy of a trained graph for inference, with two fusions that leave its outputs equal to the original's (to float
 * rounding) and take passes over the activations away; PyTorch's {@code torch.fx} fusion and TorchScript's
 * {@code optimize_for_inference} do the same:
 * <ul>
 *   <li><b>Batch norm folded into the convolution before it</b> ({@value #FOLD_BATCH_NORM}): the convolution's weights
 *       scaled per output channel by {@code gamma / sqrt(var + eps)} and its bias set to
 *       {@code beta + (bias - mean) * gamma / sqrt(var + eps)}, from the running statistics; the batch norm is gone.
 *       Where the convolution is a plain 2D one (exact class, also inside DL4J's frozen-layer wrappers) with the
 *       identity activation and NCHW data, its output goes to the batch norm alone, and the batch norm (NCHW, no input
 *       preprocessor) reads nothing else.</li>
 *   <li><b>ReLU fused into the convolution</b> ({@value #FUSE_RELU}): a plain-ReLU activation layer that reads such a
 *       convolution alone (after the folding, a convolution, batch norm, ReLU sequence is one) becomes the
 *       convolution's own activation, and every plain-ReLU convolution applies the ReLU inside oneDNN's convolution
 *       kernel.</li>
 * </ul>
 * Anything else is copied as it is. The copy has no updater state and is meant for {@code output}: its convolutions'
 * helpers keep their weights reordered for oneDNN from one call to the next and have no backward pass
 * ({@link LayerHelpers#installForInference}); its parameters are not to be changed. The original is not changed.
 */
public final class InferenceFusion {
    /**
     * Set to {@code false} ({@code -Dzoo4j.foldBatchNorm=false}) to keep each batch norm as its own layer at inference
     * (prediction, evaluation, the benchmark's inference).
     */
    public static final String FOLD_BATCH_NORM = "zoo4j.foldBatchNorm";
    /** Set to {@code false} ({@code -Dzoo4j.fuseRelu=false}) to keep each ReLU a pass of its own at inference. */
    public static final String FUSE_RELU = "zoo4j.fuseRelu";

    private InferenceFusion() {
    }

    /** Whether {@link #forInference} folds batch norms ({@value #FOLD_BATCH_NORM}, default true). */
    public static boolean foldsBatchNorm() {
        return on(FOLD_BATCH_NORM);
    }

    /** Whether {@link #forInference} fuses ReLUs ({@value #FUSE_RELU}, default true). */
    public static boolean fusesRelu() {
        return on(FUSE_RELU);
    }

    /**
     * What inference runs on, for {@code ./zoo4j info}: e.g. "a copy with batch norms folded into convolutions and
     * ReLUs fused into them" or "the network as trained (zoo4j.foldBatchNorm=false, zoo4j.fuseRelu=false)".
     */
    public static String describe() {
        boolean fold = foldsBatchNorm();
        boolean relu = fusesRelu();
        if (!fold && !relu) {
            return "the network as trained (" + FOLD_BATCH_NORM + "=false, " + FUSE_RELU + "=false)";
        }
        return "a copy with " + (fold ? "batch norms folded into convolutions" : "")
                + (fold && relu ? " and " : "") + (relu ? "ReLUs fused into convolutions" : "")
                + (fold ? "" : " (" + FOLD_BATCH_NORM + "=false)") + (relu ? "" : " (" + FUSE_RELU + "=false)");
    }

    private static boolean on(String property) {
        return !"false".equalsIgnoreCase(System.getProperty(property, "true").trim());
    }

    /**
     * The network to run inference on: {@link #fuse}'s copy where either fusion is on, else {@code trained} itself
     * with zoo4j's layer helpers installed. The caller closes a copy when done with it ({@code result != trained}).
     */
    public static ComputationGraph forInference(ComputationGraph trained) {
        if (foldsBatchNorm() || fusesRelu()) {
            return fuse(trained, foldsBatchNorm(), fusesRelu());
        }
        LayerHelpers.install(trained);
        return trained;
    }

    /**
     * {@link #forInference(ComputationGraph)} for a graph; any other model (a multi-layer network: no fusions here) is
     * returned as it is.
     */
    public static Model forInference(Model trained) {
        return trained instanceof ComputationGraph graph ? forInference(graph) : trained;
    }

    /** The (convolution, batch norm) vertex names that would be folded, in the graph's order. */
    public static Map<String, String> batchNormPairs(ComputationGraphConfiguration conf) {
        return pairs(conf, layer -> layer instanceof BatchNormalization bn && bn.getClass() == BatchNormalization.class
                && bn.getCnn2DFormat() == CNN2DFormat.NCHW);
    }

    /** The (convolution, ReLU activation layer) vertex names that would be fused, in the graph's order. */
    public static Map<String, String> reluPairs(ComputationGraphConfiguration conf) {
        return pairs(conf, layer -> layer instanceof ActivationLayer act && act.getClass() == ActivationLayer.class
                && LayerHelpers.isPlainRelu(act.getActivationFn()));
    }

    /**
     * Each vertex whose layer {@code follower} accepts, with no preprocessor and one input, where that input is a plain
     * 2D NCHW convolution with the identity activation, read by nothing else and not a network output: (convolution,
     * follower).
     */
    private static Map<String, String> pairs(ComputationGraphConfiguration conf, Predicate<Layer> follower) {
        Map<String, Integer> readers = new LinkedHashMap<>();
        for (List<String> inputs : conf.getVertexInputs().values()) {
            for (String in : inputs) {
                readers.merge(in, 1, Integer::sum);
            }
        }
        Map<String, String> pairs = new LinkedHashMap<>();
        for (var e : conf.getVertices().entrySet()) {
            List<String> inputs = conf.getVertexInputs().getOrDefault(e.getKey(), List.of());
            if (!(e.getValue() instanceof LayerVertex next) || next.getPreProcessor() != null || inputs.size() != 1
                    || !follower.test(unwrap(next.getLayerConf().getLayer()))) {
                continue;
            }
            String convName = inputs.get(0);
            if (conf.getVertices().get(convName) instanceof LayerVertex conv
                    && unwrap(conv.getLayerConf().getLayer()) instanceof ConvolutionLayer c
                    && c.getClass() == ConvolutionLayer.class && c.getCnn2dDataFormat() == CNN2DFormat.NCHW
                    && c.getActivationFn() instanceof ActivationIdentity
                    && readers.getOrDefault(convName, 0) == 1 && !conf.getNetworkOutputs().contains(convName)) {
                pairs.put(convName, e.getKey());
            }
        }
        return pairs;
    }

    /** The copy (see the class comment) with the fusions asked for, its layer helpers installed. */
    public static ComputationGraph fuse(ComputationGraph trained, boolean foldBatchNorm, boolean fuseRelu) {
        ComputationGraphConfiguration conf = trained.getConfiguration().clone();
        Map<String, String> folded = foldBatchNorm ? batchNormPairs(conf) : Map.of();
        // It keeps its identity activation: DL4J's batch-norm layer never applies the activation it is configured with.
        remove(conf, folded, conv -> conv.setHasBias(true));
        Map<String, String> fusedRelu = fuseRelu ? reluPairs(conf) : Map.of();
        remove(conf, fusedRelu, conv -> conv.setActivationFn(new ActivationReLU()));
        conf.setTopologicalOrder(null);
        conf.setTopologicalOrderStr(null);
        ComputationGraph copy = new ComputationGraph(conf);
        copy.init();
        for (var vertex : copy.getVertices()) {
            if (!vertex.hasLayer()) {
                continue;
            }
            String name = vertex.getVertexName();
            org.deeplearning4j.nn.api.Layer layer = vertex.getLayer();
            Map<String, INDArray> from = trained.getVertex(name).getLayer().paramTable();
            if (folded.containsKey(name)) {
                foldInto(layer.paramTable(), from, trained.getVertex(folded.get(name)).getLayer());
            } else {
                for (var param : layer.paramTable().entrySet()) {
                    param.getValue().assign(from.get(param.getKey()));
                }
            }
        }
        LayerHelpers.installForInference(copy, fuseRelu);
        return copy;
    }

    /**
     * Takes each pair's second vertex out of {@code conf}, its readers reading the convolution instead, and changes
     * the convolution as {@code change} says. The convolution loses any frozen wrapper: the copy is for inference.
     */
    private static void remove(ComputationGraphConfiguration conf, Map<String, String> pairs,
                               Consumer<ConvolutionLayer> change) {
        Map<String, String> renamed = new LinkedHashMap<>();
        for (var p : pairs.entrySet()) {
            LayerVertex convVertex = (LayerVertex) conf.getVertices().get(p.getKey());
            ConvolutionLayer conv = (ConvolutionLayer) unwrap(convVertex.getLayerConf().getLayer());
            change.accept(conv);
            conv.setLayerName(p.getKey());
            convVertex.getLayerConf().setLayer(conv);
            conf.getVertices().remove(p.getValue());
            conf.getVertexInputs().remove(p.getValue());
            renamed.put(p.getValue(), p.getKey());
        }
        for (List<String> inputs : conf.getVertexInputs().values()) {
            inputs.replaceAll(in -> renamed.getOrDefault(in, in));
        }
        conf.setNetworkOutputs(new ArrayList<>(conf.getNetworkOutputs()));
        conf.getNetworkOutputs().replaceAll(out -> renamed.getOrDefault(out, out));
    }

    /** Sets the folded convolution's weights and bias from the trained convolution's and its batch norm's. */
    private static void foldInto(Map<String, INDArray> target, Map<String, INDArray> conv,
                                 org.deeplearning4j.nn.api.Layer normLayer) {
        BatchNormalization bn = (BatchNormalization) unwrap(normLayer.conf().getLayer());
        Map<String, INDArray> norm = normLayer.paramTable();
        INDArray w = conv.get(ConvolutionParamInitializer.WEIGHT_KEY);
        long channels = w.size(0);
        // In double: the scale's rounding is then the only float rounding added to the convolution's
        INDArray mean = vector(norm.get(BatchNormalizationParamInitializer.GLOBAL_MEAN), channels);
        INDArray variance;
        if (bn.isUseLogStd()) {
            INDArray log10Std = vector(norm.get(BatchNormalizationParamInitializer.GLOBAL_LOG_STD), channels);
            variance = Transforms.pow(Nd4j.valueArrayOf(log10Std.shape(), 10.0, DataType.DOUBLE), log10Std.mul(2.0));
        } else {
            variance = vector(norm.get(BatchNormalizationParamInitializer.GLOBAL_VAR), channels);
        }
        INDArray gamma = bn.isLockGammaBeta() ? Nd4j.valueArrayOf(new long[] {channels}, bn.getGamma(), DataType.DOUBLE)
                : vector(norm.get(BatchNormalizationParamInitializer.GAMMA), channels);
        INDArray beta = bn.isLockGammaBeta() ? Nd4j.valueArrayOf(new long[] {channels}, bn.getBeta(), DataType.DOUBLE)
                : vector(norm.get(BatchNormalizationParamInitializer.BETA), channels);
        INDArray scale = gamma.div(Transforms.sqrt(variance.add(bn.getEps()), false));
        INDArray bias = conv.containsKey(ConvolutionParamInitializer.BIAS_KEY)
                ? vector(conv.get(ConvolutionParamInitializer.BIAS_KEY), channels)
                : Nd4j.zeros(DataType.DOUBLE, channels);
        INDArray foldedBias = bias.sub(mean).muli(scale).addi(beta);
        INDArray weights = w.castTo(DataType.DOUBLE).reshape('c', channels, w.length() / channels)
                .mulColumnVector(scale.reshape(channels, 1));
        target.get(ConvolutionParamInitializer.WEIGHT_KEY).assign(weights.reshape('c', w.shape()));
        target.get(ConvolutionParamInitializer.BIAS_KEY).assign(
                foldedBias.reshape(target.get(ConvolutionParamInitializer.BIAS_KEY).shape()));
    }

    private static INDArray vector(INDArray a, long length) {
        return a.castTo(DataType.DOUBLE).reshape(length);
    }

    private static Layer unwrap(Layer layer) {
        if (layer instanceof FrozenLayer frozen) {
            return frozen.getLayer();
        }
        return layer instanceof FrozenLayerWithBackprop frozen ? frozen.getUnderlying() : layer;
    }
}
