package org.zoo4j.runtime;

import java.lang.reflect.Field;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.Locale;
import java.util.Map;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.vertex.GraphVertex;
import org.deeplearning4j.nn.graph.vertex.impl.LayerVertex;
import org.deeplearning4j.nn.layers.ActivationLayer;
import org.deeplearning4j.nn.layers.FrozenLayer;
import org.deeplearning4j.nn.layers.FrozenLayerWithBackprop;
import org.deeplearning4j.nn.layers.OutputLayer;
import org.deeplearning4j.nn.layers.convolution.ConvolutionLayer;
import org.deeplearning4j.nn.layers.feedforward.dense.DenseLayer;
import org.deeplearning4j.nn.layers.mkldnn.MKLDNNBatchNormHelper;
import org.deeplearning4j.nn.layers.mkldnn.MKLDNNConvHelper;
import org.deeplearning4j.nn.layers.normalization.BatchNormalization;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.activations.impl.ActivationReLU;
import org.nd4j.linalg.api.buffer.DataType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zoo4j.base.Choices;
import org.zoo4j.base.ConfigException;

/**
 * Swaps DL4J's oneDNN helpers of convolution and batch-norm layers for zoo4j's faster ones
 * ({@link OneDnnConvolutionHelper}, or {@link DirectConvolutionHelper} where the dnnl natives are missing or
 * {@value #CONVOLUTION}{@code =direct}; {@link OneDnnBatchNormHelper}, or {@link ChannelPassBatchNormHelper} where the
 * dnnl natives are missing or {@value #BATCH_NORM}{@code =nd4j}), and DL4J's plain-ReLU activation, dense
 * and output layers for {@link ReluActivationLayer}, {@link GemmDenseLayer} and {@link GemmOutputLayer}, on a network
 * about to be trained or run. Convolution layers inside DL4J's frozen-layer
 * wrappers (transfer learning) get the convolution helper too: a frozen layer runs its forward pass only.
 *
 * <p>In a graph, a plain ReLU layer that is the only reader of a two-input element-wise addition (a residual block's
 * sum) takes its ReLU from there in training: the addition is replaced by {@link ResidualAddVertex}, which applies
 * it, and the ReLU layer hands that on ({@value #FUSE_RELU}{@code =false} keeps them apart).
 *
 * <p>DL4J picks a layer's helper by a class name fixed in its code, so the swap sets the layer's {@code helper} field.
 * It touches only plain 2D convolution and batch-norm layers that DL4J gave its oneDNN helper (CPU backend, helpers
 * on); anything else is left as it is, and so is everything if the field cannot be set (another DL4J version): the
 * network then trains as before, at DL4J's speed. The layers (plain ND4J operations, any backend) are swapped in the
 * network's layer array and, in a graph, in their vertex; the configuration is untouched. Layers made afresh
 * from the configuration (a clone, {@code ParallelWrapper}'s replicas, a reload) are DL4J's again until this runs on
 * them.
 */
public final class LayerHelpers {
    /** Set to {@code false} ({@code -Dzoo4j.layerHelpers=false}) to train with DL4J's own helpers throughout. */
    public static final String SWITCH = "zoo4j.layerHelpers";
    /**
     * Which convolution helper plain 2D convolution layers get (when {@value #SWITCH} is not false):
     * <ul>
     *   <li>{@code onednn} (default): {@link OneDnnConvolutionHelper}, zoo4j's own calls to oneDNN through the JavaCPP
     *       presets, with primitives made once per shape; the {@code direct} route where the dnnl natives do not
     *       load, and for any layer or shape it does not take (NHWC, dilation, other data types);</li>
     *   <li>{@code direct}: {@link DirectConvolutionHelper}, DL4J's oneDNN helper through libnd4j with its backward
     *       pass taken directly where oneDNN's Winograd is slow (zoo4j's route before the oneDNN helper);</li>
     *   <li>{@code dl4j}: DL4J's own oneDNN helper, as it comes.</li>
     * </ul>
     * {@link #convolutionPath()} says which is active and why ({@code ./zoo4j info} shows it).
     */
    public static final String CONVOLUTION = "zoo4j.convolution";
    /**
     * Which batch-norm helper batch-norm layers get (when {@value #SWITCH} is not false):
     * <ul>
     *   <li>{@code onednn} (default): {@link OneDnnBatchNormHelper}, oneDNN's batch normalization called through the
     *       JavaCPP presets on DL4J's NCHW arrays in training (inference stays DL4J's); {@code nd4j}'s where the dnnl
     *       natives do not load, and for any array it does not take;</li>
     *   <li>{@code nd4j}: {@link ChannelPassBatchNormHelper}, zoo4j's whole-array passes of libnd4j's ops (zoo4j's
     *       route before the oneDNN helper);</li>
     *   <li>{@code dl4j}: DL4J's own oneDNN helper, as it comes.</li>
     * </ul>
     * {@link #batchNormPath()} says which is active ({@code ./zoo4j info} shows it).
     */
    public static final String BATCH_NORM = "zoo4j.batchNorm";
    /**
     * The layout zoo4j's oneDNN batch-norm helper runs its primitives on inside each call: {@code blocked} (default;
     * oneDNN's blocked layout where the channels divide into its blocks, the activations reordered in and out) or
     * {@code nchw} (DL4J's arrays as they are). Between layers the arrays are NCHW (see {@link #BLOCKED_HAND_OFF} for
     * the one exception).
     */
    public static final String BATCH_NORM_LAYOUT = "zoo4j.batchNormLayout";
    /**
     * Set to {@code false} ({@code -Dzoo4j.fuseRelu=false}) to keep each plain ReLU layer's forward pass its own in
     * training, where it would otherwise be applied inside the residual addition before it.
     */
    public static final String FUSE_RELU = "zoo4j.fuseRelu";
    /**
     * Set to {@code false} ({@code -Dzoo4j.blockedHandOff=false}) to reorder every array between a convolution and
     * the batch norm that is its only reader, in training; otherwise the convolution's result goes to the batch norm,
     * and the batch norm's input gradient back to the convolution, in oneDNN's blocked layout as well as in the NCHW
     * array DL4J passes ({@link #linkConvolutionsToBatchNorms}).
     */
    public static final String BLOCKED_HAND_OFF = "zoo4j.blockedHandOff";
    /**
     * Set to {@code false} ({@code -Dzoo4j.blockedInPlace=false}) to keep the NCHW values in the arrays between a linked
     * convolution and batch norm ({@link #BLOCKED_HAND_OFF}) in a graph trained with {@code fit}; otherwise
     * ({@link #installForTraining}) those two arrays hold oneDNN's blocked layout in place of NCHW during a training
     * step ({@link OneDnn.Link}), which saves reordering them: a {@code TrainingListener}'s {@code onForwardPass} then
     * sees such a convolution's output in that layout. Inference and every other path see NCHW.
     */
    public static final String BLOCKED_IN_PLACE = "zoo4j.blockedInPlace";
    /**
     * Set to {@code false} ({@code -Dzoo4j.blockedThroughRelu=false}) to keep NCHW in the arrays from a batch norm
     * through the plain ReLU that is its only reader to the convolution that is the ReLU's only reader, in a graph
     * trained with {@code fit}; otherwise ({@link #installForTraining}) the batch norm's output, the ReLU's output and
     * their two gradients hold oneDNN's blocked layout during a training step ({@link OneDnn.Bridge}): a
     * {@code TrainingListener}'s {@code onForwardPass} then sees those two outputs in that layout. Off where
     * {@value #BLOCKED_IN_PLACE} is false.
     */
    public static final String BLOCKED_THROUGH_RELU = "zoo4j.blockedThroughRelu";
    /**
     * Set to {@code false} ({@code -Dzoo4j.ownGradientUpdater=false}) to keep DL4J's updater on a graph about to be
     * trained, which makes fresh views of the parameters and gradients every step ({@link OwnGradientUpdater}).
     */
    public static final String OWN_GRADIENT_UPDATER = "zoo4j.ownGradientUpdater";
    private static final Logger log = LoggerFactory.getLogger(LayerHelpers.class);
    private static final Field CONVOLUTION_HELPER = helperField(ConvolutionLayer.class);
    private static final Field BATCH_NORM_HELPER = helperField(BatchNormalization.class);
    private static final Field LAYER_VERTEX_LAYER = field(LayerVertex.class, "layer");
    private static final Field GRAPH_VERTICES_MAP = field(ComputationGraph.class, "verticesMap");

    private LayerHelpers() {
    }

    /** Installs the faster helpers where they apply; returns how many layers got one. */
    public static int install(Model model) {
        return install(model, false, false);
    }

    /**
     * {@link #install}, for a graph that is only ever run forward, its weights fixed (an inference copy,
     * {@link InferenceCopy}): its convolutions get helpers that keep their reordered weights and cannot train
     * ({@link OneDnnConvolutionHelper#forInference}). Returns how many layers got a helper.
     */
    static int installForInference(ComputationGraph graph) {
        return installForInference(graph, true);
    }

    /**
     * {@link #installForInference(ComputationGraph)}; {@code reluInConvolution}: whether a convolution whose activation
     * is a plain ReLU applies it inside oneDNN's primitive (false only to measure what that gains).
     */
    static int installForInference(ComputationGraph graph, boolean reluInConvolution) {
        return install(graph, true, reluInConvolution);
    }

    private static int install(Model model, boolean inferenceOnly, boolean reluInConvolution) {
        Layer[] layers = model instanceof ComputationGraph graph ? graph.getLayers()
                : model instanceof MultiLayerNetwork network ? network.getLayers() : null;
        if (layers == null || !enabled()) {
            return 0;
        }
        int installed = replaceLayers(model, layers);
        String convolution = convolutionSetting();
        String batchNorm = batchNormSetting();
        for (Layer outer : layers) {
            // A frozen layer wraps the layer it freezes; its convolution runs forward (and, with backprop, backward)
            Layer layer = outer instanceof FrozenLayer frozen ? frozen.getInsideLayer()
                    : outer instanceof FrozenLayerWithBackprop frozen ? frozen.getInsideLayer() : outer;
            try {
                // Exact classes: 1D, transposed, depthwise and separable convolutions keep DL4J's path.
                if (layer.getClass() == ConvolutionLayer.class && CONVOLUTION_HELPER != null
                        && CONVOLUTION_HELPER.get(layer) != null
                        && CONVOLUTION_HELPER.get(layer).getClass() == MKLDNNConvHelper.class) {
                    if (convolution.equals("dl4j")) {
                        Backend.libnd4jConvolutionRoute();
                        continue;
                    }
                    var conf = (org.deeplearning4j.nn.conf.layers.ConvolutionLayer) layer.conf().getLayer();
                    DataType dataType = layer.getParam("W").dataType();
                    boolean reuse = forwardOutputServesBackprop(conf.getActivationFn());
                    boolean onednn = convolution.equals("onednn") && OneDnn.available();
                    if (!onednn) {
                        Backend.libnd4jConvolutionRoute();
                    }
                    CONVOLUTION_HELPER.set(layer, onednn && inferenceOnly
                            ? OneDnnConvolutionHelper.forInference(dataType, conf.hasBias(),
                                    reluInConvolution && isPlainRelu(conf.getActivationFn()))
                            : onednn ? new OneDnnConvolutionHelper(dataType, conf.hasBias(), reuse)
                            : new DirectConvolutionHelper(dataType, reuse));
                    installed++;
                } else if (layer != outer) {
                    continue; // only convolutions are unwrapped
                } else if (layer.getClass() == BatchNormalization.class && BATCH_NORM_HELPER != null
                        && BATCH_NORM_HELPER.get(layer) != null
                        && BATCH_NORM_HELPER.get(layer).getClass() == MKLDNNBatchNormHelper.class) {
                    if (batchNorm.equals("dl4j")) {
                        continue;
                    }
                    DataType dataType = layer.getParam("gamma").dataType();
                    BATCH_NORM_HELPER.set(layer, batchNorm.equals("onednn") && OneDnn.available()
                            ? new OneDnnBatchNormHelper(dataType, batchNormBlocked())
                            : new ChannelPassBatchNormHelper(dataType));
                    installed++;
                }
            } catch (IllegalAccessException | RuntimeException e) {
                log.debug("left DL4J's helper on {}: {}", layer.getClass().getSimpleName(), e.toString());
            }
        }
        if (!inferenceOnly && model instanceof ComputationGraph graph && Choices.flag(FUSE_RELU, true)) {
            fuseRelus(graph);
        }
        if (!inferenceOnly && model instanceof ComputationGraph graph && Choices.flag(BLOCKED_HAND_OFF, true)) {
            linkConvolutionsToBatchNorms(graph);
        }
        return installed;
    }

    /**
     * Links each plain ReLU layer whose vertex reads only the output of a two-input element-wise addition, and is that
     * output's only reader, to it; the addition becomes a {@link ResidualAddVertex}. (Batch norm's own fused ReLU,
     * oneDNN's {@code fuse_norm_relu}, was measured and is not used: 2.2 to 2.6 times batch norm's time on NCHW
     * arrays, training/benchmarks/README.md.) Returns how many ReLU layers were linked.
     */
    static int fuseRelus(ComputationGraph graph) {
        GraphVertex[] vertices = graph.getVertices();
        int linked = 0;
        for (GraphVertex vertex : vertices) {
            if (!(vertex instanceof LayerVertex reluVertex) || !(reluVertex.getLayer() instanceof ReluActivationLayer relu)
                    || relu.fusedBefore() != null || reluVertex.getLayerPreProcessor() != null
                    || relu.conf().getLayer().getIDropout() != null || reluVertex.getInputVertices() == null
                    || reluVertex.getInputVertices().length != 1) {
                continue;
            }
            GraphVertex before = vertices[reluVertex.getInputVertices()[0].getVertexIndex()];
            if (before.getOutputVertices() == null || before.getOutputVertices().length != 1 || before.isOutputVertex()) {
                continue; // another vertex reads the output before the ReLU, or the graph returns it
            }
            try {
                if (before.getClass() == org.deeplearning4j.nn.graph.vertex.impl.ElementWiseVertex.class
                        && before.getInputVertices() != null && before.getInputVertices().length == 2
                        && GRAPH_VERTICES_MAP != null
                        && graph.getConfiguration().getVertices().get(before.getVertexName())
                        instanceof org.deeplearning4j.nn.conf.graph.ElementWiseVertex conf
                        && conf.getOp() == org.deeplearning4j.nn.conf.graph.ElementWiseVertex.Op.Add) {
                    var add = new ResidualAddVertex(graph,
                            (org.deeplearning4j.nn.graph.vertex.impl.ElementWiseVertex) before,
                            graph.getConfiguration().getDataType());
                    @SuppressWarnings("unchecked")
                    var byName = (Map<String, GraphVertex>) GRAPH_VERTICES_MAP.get(graph);
                    vertices[add.getVertexIndex()] = add;
                    byName.put(add.getVertexName(), add);
                    relu.takeReluFrom(add);
                    linked++;
                }
            } catch (IllegalAccessException | RuntimeException e) {
                log.debug("left the ReLU after {} unfused: {}", before.getVertexName(), e.toString());
            }
        }
        return linked;
    }

    /**
     * Links each convolution on zoo4j's oneDNN helper whose only reader is a batch norm on zoo4j's oneDNN helper (and
     * which is that batch norm's only input) to it ({@link OneDnn.Link}): in training the convolution's result then
     * reaches the batch norm, and the batch norm's input gradient the convolution, in the blocked layout both run on,
     * without a reorder to NCHW and back (the NCHW arrays are still written: DL4J keeps them; in a graph trained with
     * {@code fit}, {@link #installForTraining}, they hold the blocked layout itself instead, {@value #BLOCKED_IN_PLACE}).
     * Only where nothing can
     * change those arrays between the two calls: the convolution's activation is the identity (DL4J applies any other
     * in place on its result), it is not an output of the graph, the batch norm has no preprocessor or input dropout
     * (both would make a new array), and the convolution has no other reader (whose gradient DL4J would add into the
     * batch norm's, in place). Returns how many pairs were linked.
     */
    static int linkConvolutionsToBatchNorms(ComputationGraph graph) {
        GraphVertex[] vertices = graph.getVertices();
        int linked = 0;
        for (GraphVertex vertex : vertices) {
            if (!(vertex instanceof LayerVertex convVertex) || convVertex.getLayer().getClass() != ConvolutionLayer.class
                    || !(helperOf(convVertex.getLayer()) instanceof OneDnnConvolutionHelper conv)
                    || conv.inferenceOnly() || conv.link() != null
                    || !(convVertex.getLayer().conf().getLayer()
                    instanceof org.deeplearning4j.nn.conf.layers.ConvolutionLayer convConf)
                    || !(convConf.getActivationFn() instanceof ActivationIdentity)
                    || convVertex.isOutputVertex() || convVertex.getOutputVertices() == null
                    || convVertex.getOutputVertices().length != 1) {
                continue;
            }
            GraphVertex after = vertices[convVertex.getOutputVertices()[0].getVertexIndex()];
            if (!(after instanceof LayerVertex bnVertex) || bnVertex.getLayer().getClass() != BatchNormalization.class
                    || !(helperOf(bnVertex.getLayer()) instanceof OneDnnBatchNormHelper bn) || bn.link() != null
                    || bnVertex.getLayerPreProcessor() != null
                    || bnVertex.getLayer().conf().getLayer().getIDropout() != null
                    || bnVertex.getInputVertices() == null || bnVertex.getInputVertices().length != 1) {
                continue;
            }
            OneDnn.Link link = new OneDnn.Link(convVertex.getVertexName() + " -> " + bnVertex.getVertexName());
            conv.link(link);
            bn.link(link);
            linked++;
        }
        return linked;
    }

    /**
     * {@link #install}, for a graph about to be trained with {@code fit}: the convolution layers that read the
     * network's input directly then compute no gradient with respect to it (nothing reads it; PyTorch does not compute
     * it either, as its input does not require a gradient). Not for a graph whose input gradient is wanted (saliency,
     * activation maximisation): there use {@link #install}. The graph's updater becomes {@link OwnGradientUpdater}
     * (unless {@value #OWN_GRADIENT_UPDATER} is false), and the arrays between each linked convolution and batch norm
     * hold oneDNN's blocked layout during a training step (unless {@value #BLOCKED_IN_PLACE} is false).
     * Returns how many layers got a helper.
     */
    public static int installForTraining(Model model) {
        int installed = install(model);
        if (!(model instanceof ComputationGraph graph)) {
            return installed;
        }
        if (enabled() && Choices.flag(OWN_GRADIENT_UPDATER, true)) {
            OwnGradientUpdater.install(graph);
        }
        for (GraphVertex vertex : graph.getVertices()) {
            // Neither a preprocessor nor input dropout: DL4J hands the gradient to those, and they do not take null.
            if (vertex instanceof LayerVertex lv && lv.getLayerPreProcessor() == null && lv.getInputVertices() != null
                    && lv.getLayer().conf().getLayer().getIDropout() == null
                    && Arrays.stream(lv.getInputVertices())
                    .allMatch(in -> graph.getVertices()[in.getVertexIndex()].isInputVertex())
                    && helperOf(lv.getLayer()) instanceof OneDnnConvolutionHelper helper) {
                helper.skipInputGradient();
            }
            // fit reads nothing of a linked pair's two arrays but the two layers: they may hold the blocked layout
            if (vertex instanceof LayerVertex lv && helperOf(lv.getLayer()) instanceof OneDnnConvolutionHelper helper
                    && helper.link() != null) {
                helper.link().allowInPlace(Choices.flag(BLOCKED_IN_PLACE, true));
            }
        }
        if (enabled() && Choices.flag(BLOCKED_IN_PLACE, true) && Choices.flag(BLOCKED_THROUGH_RELU, true)) {
            bridgeBatchNormsToConvolutions(graph);
        }
        return installed;
    }

    /**
     * Bridges each batch norm on zoo4j's oneDNN helper whose only reader is a plain ReLU layer ({@link
     * ReluActivationLayer}, its ReLU not taken from a residual sum) whose only reader is a plain convolution on zoo4j's
     * oneDNN helper ({@link OneDnn.Bridge}): in a training step the arrays between them then hold oneDNN's blocked
     * layout. Only where DL4J makes no new array of them on the way and adds no other gradient into theirs: the batch
     * norm's activation is the identity, none of the three is an output of the graph or has another reader, and the
     * ReLU and the convolution have one input each, no preprocessor and no input dropout. Returns how many were bridged.
     */
    static int bridgeBatchNormsToConvolutions(ComputationGraph graph) {
        GraphVertex[] vertices = graph.getVertices();
        int bridged = 0;
        for (GraphVertex vertex : vertices) {
            if (!(vertex instanceof LayerVertex bnVertex) || bnVertex.getLayer().getClass() != BatchNormalization.class
                    || !(helperOf(bnVertex.getLayer()) instanceof OneDnnBatchNormHelper bn) || bn.bridge() != null
                    || !(bnVertex.getLayer().conf().getLayer()
                    instanceof org.deeplearning4j.nn.conf.layers.BatchNormalization bnConf)
                    || !(bnConf.getActivationFn() instanceof ActivationIdentity) || !onlyReader(bnVertex)) {
                continue;
            }
            GraphVertex next = vertices[bnVertex.getOutputVertices()[0].getVertexIndex()];
            if (!(next instanceof LayerVertex reluVertex) || !(reluVertex.getLayer() instanceof ReluActivationLayer relu)
                    || relu.fusedBefore() != null || !plainSingleInput(reluVertex) || !onlyReader(reluVertex)) {
                continue;
            }
            GraphVertex after = vertices[reluVertex.getOutputVertices()[0].getVertexIndex()];
            if (!(after instanceof LayerVertex convVertex) || convVertex.getLayer().getClass() != ConvolutionLayer.class
                    || !(helperOf(convVertex.getLayer()) instanceof OneDnnConvolutionHelper conv)
                    || conv.inferenceOnly() || conv.bridge() != null || !plainSingleInput(convVertex)) {
                continue;
            }
            OneDnn.Bridge bridge = new OneDnn.Bridge(bnVertex.getVertexName() + " -> " + reluVertex.getVertexName()
                    + " -> " + convVertex.getVertexName());
            bn.bridge(bridge);
            conv.bridge(bridge);
            bridged++;
        }
        return bridged;
    }

    /** Whether a vertex has exactly one reader and is not an output of the graph. */
    private static boolean onlyReader(GraphVertex v) {
        return !v.isOutputVertex() && v.getOutputVertices() != null && v.getOutputVertices().length == 1;
    }

    /** Whether a layer vertex has one input, no preprocessor and no input dropout (DL4J then hands its input as is). */
    private static boolean plainSingleInput(LayerVertex v) {
        return v.getLayerPreProcessor() == null && v.getLayer().conf().getLayer().getIDropout() == null
                && v.getInputVertices() != null && v.getInputVertices().length == 1;
    }

    /**
     * Puts zoo4j's layer in place of each of DL4J's that has one: {@link ReluActivationLayer} for plain-ReLU activation
     * layers, {@link GemmDenseLayer} for dense layers, {@link GemmOutputLayer} for output layers (exact classes: frozen
     * and other subclasses keep DL4J's). In the layer array, and for a graph in its vertex. Returns how many.
     */
    private static int replaceLayers(Model model, Layer[] layers) {
        if (LAYER_VERTEX_LAYER == null) {
            return 0;
        }
        DataType dataType = model instanceof ComputationGraph graph ? graph.getConfiguration().getDataType()
                : ((MultiLayerNetwork) model).getLayerWiseConfigurations().getDataType();
        Map<Layer, LayerVertex> vertices = new IdentityHashMap<>();
        if (model instanceof ComputationGraph graph) {
            for (GraphVertex vertex : graph.getVertices()) {
                if (vertex instanceof LayerVertex layerVertex) {
                    vertices.put(layerVertex.getLayer(), layerVertex);
                }
            }
        }
        int replaced = 0;
        for (int i = 0; i < layers.length; i++) {
            Layer layer = layers[i];
            if (model instanceof ComputationGraph && !vertices.containsKey(layer)) {
                continue;
            }
            try {
                Layer ours = layer.getClass() == ActivationLayer.class && ReluActivationLayer.isPlainRelu(layer.conf())
                        ? new ReluActivationLayer((ActivationLayer) layer, dataType)
                        : layer.getClass() == DenseLayer.class ? new GemmDenseLayer((DenseLayer) layer, dataType)
                        : layer.getClass() == OutputLayer.class ? new GemmOutputLayer((OutputLayer) layer, dataType)
                        : null;
                if (ours == null) {
                    continue;
                }
                if (model instanceof ComputationGraph) {
                    LAYER_VERTEX_LAYER.set(vertices.get(layer), ours);
                }
                layers[i] = ours;
                replaced++;
            } catch (IllegalAccessException | RuntimeException e) {
                log.debug("left DL4J's layer {}: {}", layer.conf().getLayer().getLayerName(), e.toString());
            }
        }
        return replaced;
    }

    /** Whether {@link #install} does anything ({@value #SWITCH}, default true). */
    public static boolean enabled() {
        return Choices.flag(SWITCH, true);
    }

    /** {@value #CONVOLUTION}: onednn (default), direct or dl4j; anything else is refused. */
    static String convolutionSetting() {
        String value = System.getProperty(CONVOLUTION, "onednn").trim().toLowerCase(Locale.ROOT);
        if (!value.equals("onednn") && !value.equals("direct") && !value.equals("dl4j")) {
            throw new ConfigException(CONVOLUTION + "=" + System.getProperty(CONVOLUTION)
                    + " is not a convolution path: give onednn, direct or dl4j");
        }
        return value;
    }

    /** {@value #BATCH_NORM}: onednn (default), nd4j or dl4j; anything else is refused. */
    static String batchNormSetting() {
        String value = System.getProperty(BATCH_NORM, "onednn").trim().toLowerCase(Locale.ROOT);
        if (!value.equals("onednn") && !value.equals("nd4j") && !value.equals("dl4j")) {
            throw new ConfigException(BATCH_NORM + "=" + System.getProperty(BATCH_NORM)
                    + " is not a batch-norm path: give onednn, nd4j or dl4j");
        }
        return value;
    }

    /** {@value #BATCH_NORM_LAYOUT}: blocked (default, true) or nchw (false); anything else is refused. */
    static boolean batchNormBlocked() {
        String value = System.getProperty(BATCH_NORM_LAYOUT, "blocked").trim().toLowerCase(Locale.ROOT);
        if (!value.equals("blocked") && !value.equals("nchw")) {
            throw new ConfigException(BATCH_NORM_LAYOUT + "=" + System.getProperty(BATCH_NORM_LAYOUT)
                    + " is not a batch-norm layout: give blocked or nchw");
        }
        return value.equals("blocked");
    }

    /**
     * Which path batch-norm layers take once {@link #install} has run, and why: for example "oneDNN 2.5.2 called
     * directly in training (zoo4j; blocked layout inside each call where the channels divide into blocks)", "DL4J's
     * (zoo4j.batchNorm=dl4j)" or "zoo4j's passes of libnd4j's ops (dnnl natives did not load: ...)".
     */
    public static String batchNormPath() {
        BackendInfo info = Backend.init();
        if (!enabled()) {
            return "DL4J's (" + SWITCH + "=false)";
        }
        if (!"CPU".equalsIgnoreCase(info.backend())) {
            return "DL4J's (" + info.backend() + " backend: zoo4j's helpers replace only DL4J's oneDNN ones)";
        }
        if (!info.helpersEnabled() || !info.oneDnn()) {
            return "DL4J's built-in (DL4J's oneDNN helpers are off)";
        }
        String passes = "zoo4j's passes of libnd4j's ops";
        return switch (batchNormSetting()) {
            case "dl4j" -> "DL4J's (" + BATCH_NORM + "=dl4j)";
            case "nd4j" -> passes + " (" + BATCH_NORM + "=nd4j)";
            default -> OneDnn.available() ? "oneDNN " + OneDnn.version() + " called directly in training (zoo4j; "
                    + (batchNormBlocked() ? "blocked layout inside each call where the channels divide into blocks"
                    : "NCHW, " + BATCH_NORM_LAYOUT + "=nchw") + ")"
                    : passes + " (dnnl natives did not load: " + OneDnn.failure() + ")";
        };
    }

    /**
     * Which convolution path plain 2D convolution layers take once {@link #install} has run, and why: for example
     * "oneDNN 2.5.2 called directly (zoo4j; ...)", "DL4J's (zoo4j.convolution=dl4j)" or "zoo4j's direct route through
     * libnd4j's oneDNN (dnnl natives did not load: ...)".
     */
    public static String convolutionPath() {
        BackendInfo info = Backend.init();
        if (!enabled()) {
            return "DL4J's (" + SWITCH + "=false)";
        }
        if (!"CPU".equalsIgnoreCase(info.backend())) {
            return "DL4J's (" + info.backend() + " backend: zoo4j's helpers replace only DL4J's oneDNN ones)";
        }
        if (!info.helpersEnabled() || !info.oneDnn()) {
            return "DL4J's built-in (DL4J's oneDNN helpers are off: " + Backend.HELPERS_DISABLE + "="
                    + System.getProperty(Backend.HELPERS_DISABLE) + ", libnd4j oneDNN " + (info.oneDnn() ? "on" : "off")
                    + ")";
        }
        return describeConvolutionPath(convolutionSetting(), OneDnn.available() ? OneDnn.version() : null,
                OneDnn.failure(), OneDnn.available() ? OneDnn.openMpRuntimes() : 0);
    }

    /** The description for a {@value #CONVOLUTION} setting and the dnnl natives' state (version null: not loaded). */
    static String describeConvolutionPath(String setting, String oneDnnVersion, String loadFailure,
                                          long openMpRuntimes) {
        String direct = "zoo4j's direct route through libnd4j's oneDNN";
        return switch (setting) {
            case "dl4j" -> "DL4J's (" + CONVOLUTION + "=dl4j)";
            case "direct" -> direct + " (" + CONVOLUTION + "=direct)";
            default -> oneDnnVersion != null
                    ? "oneDNN " + oneDnnVersion + " called directly (zoo4j; Winograd or direct per shape; "
                    + openMpRuntimes + " OpenMP runtime" + (openMpRuntimes == 1 ? ", shared with libnd4j)" : "s)")
                    : direct + " (dnnl natives did not load: " + loadFailure + ")";
        };
    }

    /**
     * How many of the network's convolution layers run zoo4j's convolution helper: where a network came from (a model
     * file, a cut for visualisation, a fine-tuning graph), to check that {@link #install} reached it.
     */
    public static int convolutionLayersWithZoo4jHelper(Model model) {
        Layer[] layers = model instanceof ComputationGraph graph ? graph.getLayers()
                : model instanceof MultiLayerNetwork network ? network.getLayers() : new Layer[0];
        int count = 0;
        for (Layer layer : layers) {
            Object helper = helperOf(layer);
            if (helper instanceof OneDnnConvolutionHelper || helper instanceof DirectConvolutionHelper) {
                count++;
            }
        }
        return count;
    }

    /** The layer's helper, whichever it is, or null. */
    static Object helperOf(Layer layer) {
        if (layer instanceof FrozenLayer frozen) {
            layer = frozen.getInsideLayer();
        } else if (layer instanceof FrozenLayerWithBackprop frozen) {
            layer = frozen.getInsideLayer();
        }
        try {
            if (layer instanceof ConvolutionLayer && CONVOLUTION_HELPER != null) {
                return CONVOLUTION_HELPER.get(layer);
            }
            if (layer instanceof BatchNormalization && BATCH_NORM_HELPER != null) {
                return BATCH_NORM_HELPER.get(layer);
            }
        } catch (IllegalAccessException e) {
            return null;
        }
        return null;
    }

    /** Takes a convolution layer's helper away: DL4J's built-in path (im2col and matrix products). For tests. */
    static void removeConvolutionHelper(Layer layer) throws IllegalAccessException {
        CONVOLUTION_HELPER.set(layer, null);
    }

    /** Whether backprop may differentiate the activation at its output instead of at its input. */
    static boolean forwardOutputServesBackprop(IActivation activation) {
        // ReLU with no threshold, cap or slope: its derivative is 1 exactly where its output is positive.
        return activation instanceof ActivationIdentity || isPlainRelu(activation);
    }

    /** ReLU with no threshold, cap or slope. */
    static boolean isPlainRelu(IActivation activation) {
        return activation != null && activation.getClass() == ActivationReLU.class
                && activation.equals(new ActivationReLU());
    }

    private static Field helperField(Class<?> layerClass) {
        return field(layerClass, "helper");
    }

    private static Field field(Class<?> owner, String name) {
        try {
            Field f = owner.getDeclaredField(name);
            f.setAccessible(true);
            return f;
        } catch (ReflectiveOperationException | RuntimeException e) {
            log.debug("{} has no {} field to set: {}", owner.getSimpleName(), name, e.toString());
            return null;
        }
    }
}
