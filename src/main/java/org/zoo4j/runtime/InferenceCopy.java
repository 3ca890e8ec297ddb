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
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
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
import org.zoo4j.base.Choices;

/**
 * A copy of a trained graph for inference, with every batch norm that directly follows a convolution folded into that
 * convolution: its weights scaled per output channel by {@code gamma / sqrt(var + eps)} and its bias set to
 * {@code beta + (bias - mean) * gamma / sqrt(var + eps)}, from the running statistics. The batch norm's pass over the
 * convolution's output is gone; the outputs equal the original's at inference to float rounding. PyTorch's
 * {@code torch.fx} fusion and TorchScript's {@code optimize_for_inference} do the same. Then every plain-ReLU
 * activation layer that reads such a convolution alone (with or without a batch norm folded into it) becomes that
 * convolution's activation, which the convolution's inference helper applies inside oneDNN's convolution (a post-op):
 * a convolution -> batch norm -> ReLU chain is one pass over its output where it was three. And every plain-ReLU layer
 * after a two-input addition that nothing else reads (a residual block's end) joins it in an {@link AddReluVertex}.
 *
 * <p>A pair is folded where the convolution is a plain 2D one (exact class, also inside DL4J's frozen-layer wrappers)
 * with the identity activation and NCHW data, its output goes to the batch norm alone, and the batch norm (NCHW, no
 * input preprocessor) reads nothing else; ReLUs are merged under like conditions ({@link #reluPairs},
 * {@link #addReluPairs}). Anything else is copied as it is. The copy has no updater state and is meant for
 * {@code output}: its convolutions' helpers keep their weights reordered for oneDNN from one call to the next and
 * have no backward pass ({@link LayerHelpers#installForInference}), nor has an {@link AddReluVertex}, so its
 * parameters are not to be changed. The original is not changed.
 */
public final class InferenceCopy {
    /**
     * Set to {@code false} ({@code -Dzoo4j.inferenceCopy=false}) to run inference (prediction, evaluation, a run's final
     * test, the benchmark's inference) on the network as trained: batch norms and ReLUs as separate layers, the
     * convolutions' weights reordered on every call.
     */
    public static final String SWITCH = "zoo4j.inferenceCopy";

    private InferenceCopy() {
    }

    /** Whether {@link #forInference} makes the copy ({@value #SWITCH}, default true). */
    public static boolean enabled() {
        return Choices.flag(SWITCH, true);
    }

    /** What inference runs on, for {@code ./zoo4j info}. */
    public static String describe() {
        return enabled() ? "a copy with batch norms folded into convolutions, ReLUs applied by the convolution or"
                + " addition before them, and weights reordered once"
                : "the network as trained (" + SWITCH + "=false)";
    }

    /**
     * The network to run inference on: {@link #of}'s copy where the switch is on, else {@code trained} itself with
     * zoo4j's layer helpers installed. The caller closes a copy when done with it ({@code result != trained}).
     */
    public static ComputationGraph forInference(ComputationGraph trained) {
        if (enabled()) {
            return of(trained);
        }
        LayerHelpers.install(trained);
        return trained;
    }

    /**
     * {@link #forInference(ComputationGraph)} for a graph; any other model (a multi-layer network: no copy) is returned
     * as it is.
     */
    public static Model forInference(Model trained) {
        return trained instanceof ComputationGraph graph ? forInference(graph) : trained;
    }

    /** The (convolution, batch norm) vertex names {@link #of} folds, in the graph's order. */
    public static Map<String, String> batchNormPairs(ComputationGraphConfiguration conf) {
        return pairs(conf, vertex -> vertex instanceof LayerVertex norm && norm.getPreProcessor() == null
                && unwrap(norm.getLayerConf().getLayer()) instanceof BatchNormalization bn
                && bn.getClass() == BatchNormalization.class && bn.getCnn2DFormat() == CNN2DFormat.NCHW,
                in -> plainConvolution(conf, in));
    }

    /**
     * The (convolution, ReLU) vertex names {@link #of} merges, in the graph's order: a plain-ReLU activation layer
     * whose only input is a plain 2D convolution (NCHW, identity activation) that nothing else reads and that is no
     * network output. Seen on {@code conf} as it is: {@link #of} asks after folding the batch norms, so a
     * convolution -> batch norm -> ReLU chain is one convolution with its ReLU.
     */
    static Map<String, String> reluPairs(ComputationGraphConfiguration conf) {
        return pairs(conf, InferenceCopy::plainRelu, in -> plainConvolution(conf, in));
    }

    /**
     * The (addition, ReLU) vertex names {@link #of} merges into an {@link AddReluVertex}: a plain-ReLU activation layer
     * whose only input is DL4J's element-wise addition of two inputs, which nothing else reads and which is no network
     * output.
     */
    static Map<String, String> addReluPairs(ComputationGraphConfiguration conf) {
        return pairs(conf, InferenceCopy::plainRelu, in -> conf.getVertices().get(in) instanceof ElementWiseVertex add
                && add.getClass() == ElementWiseVertex.class && add.getOp() == ElementWiseVertex.Op.Add
                && conf.getVertexInputs().getOrDefault(in, List.of()).size() == 2);
    }

    /**
     * (source, follower) vertex names, in the graph's order, where the follower has one input, the source, which
     * nothing else reads and which is no network output.
     */
    private static Map<String, String> pairs(ComputationGraphConfiguration conf,
                                             Predicate<org.deeplearning4j.nn.conf.graph.GraphVertex> follower,
                                             Predicate<String> source) {
        Map<String, Integer> readers = new LinkedHashMap<>();
        for (List<String> inputs : conf.getVertexInputs().values()) {
            for (String in : inputs) {
                readers.merge(in, 1, Integer::sum);
            }
        }
        Map<String, String> pairs = new LinkedHashMap<>();
        for (var e : conf.getVertices().entrySet()) {
            List<String> inputs = conf.getVertexInputs().getOrDefault(e.getKey(), List.of());
            if (inputs.size() == 1 && follower.test(e.getValue())) {
                String in = inputs.get(0);
                if (source.test(in) && readers.getOrDefault(in, 0) == 1 && !conf.getNetworkOutputs().contains(in)) {
                    pairs.put(in, e.getKey());
                }
            }
        }
        return pairs;
    }

    /** An activation layer (DL4J's own class, also frozen) of plain ReLU with no input preprocessor. */
    private static boolean plainRelu(org.deeplearning4j.nn.conf.graph.GraphVertex vertex) {
        return vertex instanceof LayerVertex act && act.getPreProcessor() == null
                && unwrap(act.getLayerConf().getLayer()) instanceof ActivationLayer layer
                && layer.getClass() == ActivationLayer.class && LayerHelpers.isPlainRelu(layer.getActivationFn());
    }

    private static boolean plainConvolution(ComputationGraphConfiguration conf, String name) {
        return conf.getVertices().get(name) instanceof LayerVertex conv
                && unwrap(conv.getLayerConf().getLayer()) instanceof ConvolutionLayer c
                && c.getClass() == ConvolutionLayer.class && c.getCnn2dDataFormat() == CNN2DFormat.NCHW
                && c.getActivationFn() instanceof ActivationIdentity;
    }

    /**
     * For each (source, follower) pair: {@code takeOver} makes the source do the follower's work, the follower is
     * removed, and every reader of the follower (and the network's outputs) reads the source instead.
     */
    private static void merge(ComputationGraphConfiguration conf, Map<String, String> pairs,
                              Consumer<String> takeOver) {
        Map<String, String> renamed = new LinkedHashMap<>();
        for (var p : pairs.entrySet()) {
            takeOver.accept(p.getKey());
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

    /**
     * The convolution of vertex {@code name}, taken out of any frozen wrapper (the copy is for inference only), to be
     * changed in place.
     */
    private static ConvolutionLayer convolution(ComputationGraphConfiguration conf, String name) {
        LayerVertex vertex = (LayerVertex) conf.getVertices().get(name);
        ConvolutionLayer conv = (ConvolutionLayer) unwrap(vertex.getLayerConf().getLayer());
        conv.setLayerName(name);
        vertex.getLayerConf().setLayer(conv);
        return conv;
    }

    /** The copy (see the class comment), its layer helpers installed. */
    public static ComputationGraph of(ComputationGraph trained) {
        return of(trained, true);
    }

    /**
     * The copy; {@code fuseRelus} false: with its ReLU layers kept, and no convolution applying a ReLU inside oneDNN's
     * primitive, as before those were built (for {@code InferenceCopyBenchmark}).
     */
    static ComputationGraph of(ComputationGraph trained, boolean fuseRelus) {
        ComputationGraphConfiguration conf = trained.getConfiguration().clone();
        Map<String, String> pairs = batchNormPairs(conf);
        // The convolution gains a bias. It keeps its identity activation: DL4J's batch-norm layer never applies the
        // activation it is configured with.
        merge(conf, pairs, conv -> convolution(conf, conv).setHasBias(true));
        if (fuseRelus) {
            // Then each plain ReLU that reads a convolution alone becomes that convolution's activation, which its
            // inference helper applies inside the convolution (LayerHelpers.installForInference).
            merge(conf, reluPairs(conf), conv -> convolution(conf, conv).setActivationFn(new ActivationReLU()));
            // And each plain ReLU after a two-input addition (a residual block's end) joins it in one vertex.
            merge(conf, addReluPairs(conf), add -> conf.getVertices().put(add, new AddReluVertex()));
        }
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
            if (pairs.containsKey(name)) {
                foldInto(layer.paramTable(), from, trained.getVertex(pairs.get(name)).getLayer());
            } else {
                for (var param : layer.paramTable().entrySet()) {
                    param.getValue().assign(from.get(param.getKey()));
                }
            }
        }
        LayerHelpers.installForInference(copy, fuseRelus);
        return copy;
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
        // The weight-sized temporaries (twice the float weights each) are freed here, not left to the garbage
        // collector: with little heap in use it runs seldom, and a large network's copy held them through its test.
        INDArray inDouble = w.dataType() == DataType.DOUBLE ? w.dup() : w.castTo(DataType.DOUBLE);
        INDArray weights = inDouble.reshape('c', channels, w.length() / channels)
                .mulColumnVector(scale.reshape(channels, 1));
        try {
            target.get(ConvolutionParamInitializer.WEIGHT_KEY).assign(weights.reshape('c', w.shape()));
        } finally {
            weights.close();
            inDouble.close();
        }
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
