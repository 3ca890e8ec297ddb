package org.zoo4j.runtime;

import java.lang.reflect.Field;
import java.util.IdentityHashMap;
import java.util.Map;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.vertex.GraphVertex;
import org.deeplearning4j.nn.graph.vertex.impl.LayerVertex;
import org.deeplearning4j.nn.layers.ActivationLayer;
import org.deeplearning4j.nn.layers.convolution.ConvolutionLayer;
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

/**
 * Swaps DL4J's oneDNN helpers of convolution and batch-norm layers for zoo4j's faster ones
 * ({@link DirectConvolutionHelper}, {@link ChannelPassBatchNormHelper}), and DL4J's plain-ReLU activation layers for
 * {@link ReluActivationLayer}, on a network about to be trained.
 *
 * <p>DL4J picks a layer's helper by a class name fixed in its code, so the swap sets the layer's {@code helper} field.
 * It touches only plain 2D convolution and batch-norm layers that DL4J gave its oneDNN helper (CPU backend, helpers
 * on); anything else is left as it is, and so is everything if the field cannot be set (another DL4J version): the
 * network then trains as before, at DL4J's speed. The ReLU layers (plain ND4J operations, any backend) are swapped
 * in the network's layer array and, in a graph, in their vertex; the configuration is untouched. Layers made afresh
 * from the configuration (a clone, {@code ParallelWrapper}'s replicas, a reload) are DL4J's again until this runs on
 * them.
 */
public final class LayerHelpers {
    /** Set to {@code false} ({@code -Dzoo4j.layerHelpers=false}) to train with DL4J's own helpers throughout. */
    public static final String SWITCH = "zoo4j.layerHelpers";
    private static final Logger log = LoggerFactory.getLogger(LayerHelpers.class);
    private static final Field CONVOLUTION_HELPER = helperField(ConvolutionLayer.class);
    private static final Field BATCH_NORM_HELPER = helperField(BatchNormalization.class);
    private static final Field LAYER_VERTEX_LAYER = field(LayerVertex.class, "layer");

    private LayerHelpers() {
    }

    /** Installs the faster helpers where they apply; returns how many layers got one. */
    public static int install(Model model) {
        Layer[] layers = model instanceof ComputationGraph graph ? graph.getLayers()
                : model instanceof MultiLayerNetwork network ? network.getLayers() : null;
        if (layers == null || !enabled()) {
            return 0;
        }
        int installed = replaceReluLayers(model, layers);
        for (Layer layer : layers) {
            try {
                // Exact classes: 1D, transposed, depthwise and separable convolutions keep DL4J's path.
                if (layer.getClass() == ConvolutionLayer.class && CONVOLUTION_HELPER != null
                        && CONVOLUTION_HELPER.get(layer) != null
                        && CONVOLUTION_HELPER.get(layer).getClass() == MKLDNNConvHelper.class) {
                    var conf = (org.deeplearning4j.nn.conf.layers.ConvolutionLayer) layer.conf().getLayer();
                    CONVOLUTION_HELPER.set(layer, new DirectConvolutionHelper(layer.getParam("W").dataType(),
                            forwardOutputServesBackprop(conf.getActivationFn())));
                    installed++;
                } else if (layer.getClass() == BatchNormalization.class && BATCH_NORM_HELPER != null
                        && BATCH_NORM_HELPER.get(layer) != null
                        && BATCH_NORM_HELPER.get(layer).getClass() == MKLDNNBatchNormHelper.class) {
                    BATCH_NORM_HELPER.set(layer, new ChannelPassBatchNormHelper(layer.getParam("gamma").dataType()));
                    installed++;
                }
            } catch (IllegalAccessException | RuntimeException e) {
                log.debug("left DL4J's helper on {}: {}", layer.getClass().getSimpleName(), e.toString());
            }
        }
        return installed;
    }

    /**
     * Puts a {@link ReluActivationLayer} in place of each of DL4J's plain-ReLU activation layers: in the layer array,
     * and for a graph in its vertex. Returns how many.
     */
    private static int replaceReluLayers(Model model, Layer[] layers) {
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
            if (layer.getClass() != ActivationLayer.class || !ReluActivationLayer.isPlainRelu(layer.conf())
                    || (model instanceof ComputationGraph && !vertices.containsKey(layer))) {
                continue;
            }
            try {
                ReluActivationLayer relu = new ReluActivationLayer((ActivationLayer) layer, dataType);
                if (model instanceof ComputationGraph) {
                    LAYER_VERTEX_LAYER.set(vertices.get(layer), relu);
                }
                layers[i] = relu;
                replaced++;
            } catch (IllegalAccessException | RuntimeException e) {
                log.debug("left DL4J's activation layer {}: {}", layer.conf().getLayer().getLayerName(), e.toString());
            }
        }
        return replaced;
    }

    /** Whether {@link #install} does anything ({@value #SWITCH}, default true). */
    public static boolean enabled() {
        return !"false".equalsIgnoreCase(System.getProperty(SWITCH, "true").trim());
    }

    /** The layer's helper, whichever it is, or null. */
    static Object helperOf(Layer layer) {
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

    /** Whether backprop may differentiate the activation at its output instead of at its input. */
    static boolean forwardOutputServesBackprop(IActivation activation) {
        // ReLU with no threshold, cap or slope: its derivative is 1 exactly where its output is positive.
        return activation instanceof ActivationIdentity
                || (activation != null && activation.getClass() == ActivationReLU.class
                && activation.equals(new ActivationReLU()));
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
