package org.zoo4j.runtime;

import java.lang.reflect.Field;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.layers.convolution.ConvolutionLayer;
import org.deeplearning4j.nn.layers.mkldnn.MKLDNNConvHelper;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.activations.impl.ActivationReLU;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Swaps DL4J's oneDNN convolution helper for {@link DirectConvolutionHelper} on a network about to be trained.
 *
 * <p>DL4J picks a layer's helper by a class name fixed in its code, so the swap sets the layer's {@code helper} field.
 * It touches only plain 2D convolution layers that DL4J gave its oneDNN helper (CPU backend, helpers on); anything
 * else is left as it is, and so is everything if the field cannot be set (another DL4J version): the network then
 * trains as before, at DL4J's speed. Layers made afresh from the configuration (a clone, {@code ParallelWrapper}'s
 * replicas, a reload) have DL4J's helper again until this runs on them.
 */
public final class LayerHelpers {
    /** Set to {@code false} ({@code -Dzoo4j.directConvolution=false}) to train with DL4J's own helper throughout. */
    public static final String SWITCH = "zoo4j.directConvolution";
    private static final Logger log = LoggerFactory.getLogger(LayerHelpers.class);
    private static final Field CONVOLUTION_HELPER = field();

    private LayerHelpers() {
    }

    /** Installs the faster helpers where they apply; returns how many layers got one. */
    public static int install(Model model) {
        Layer[] layers = model instanceof ComputationGraph graph ? graph.getLayers()
                : model instanceof MultiLayerNetwork network ? network.getLayers() : new Layer[0];
        if (CONVOLUTION_HELPER == null || layers == null || !enabled()) {
            return 0;
        }
        int installed = 0;
        for (Layer layer : layers) {
            if (layer.getClass() != ConvolutionLayer.class) {
                continue; // 1D, transposed, depthwise and separable convolutions keep DL4J's path
            }
            try {
                Object current = CONVOLUTION_HELPER.get(layer);
                if (current == null || current.getClass() != MKLDNNConvHelper.class) {
                    continue;
                }
                var conf = (org.deeplearning4j.nn.conf.layers.ConvolutionLayer) layer.conf().getLayer();
                CONVOLUTION_HELPER.set(layer, new DirectConvolutionHelper(layer.getParam("W").dataType(),
                        forwardOutputServesBackprop(conf.getActivationFn())));
                installed++;
            } catch (IllegalAccessException | RuntimeException e) {
                log.debug("left DL4J's convolution helper on {}: {}", layer.getClass().getSimpleName(), e.toString());
            }
        }
        return installed;
    }

    /** Whether {@link #install} does anything ({@value #SWITCH}, default true). */
    public static boolean enabled() {
        return !"false".equalsIgnoreCase(System.getProperty(SWITCH, "true").trim());
    }

    /** The layer's helper if it is ours, else null. */
    static DirectConvolutionHelper installedOn(Layer layer) {
        try {
            return CONVOLUTION_HELPER != null && layer instanceof ConvolutionLayer
                    && CONVOLUTION_HELPER.get(layer) instanceof DirectConvolutionHelper h ? h : null;
        } catch (IllegalAccessException e) {
            return null;
        }
    }

    /** Whether backprop may differentiate the activation at its output instead of at its input. */
    static boolean forwardOutputServesBackprop(IActivation activation) {
        return activation instanceof ActivationIdentity
                || (activation instanceof ActivationReLU relu && relu.getClass() == ActivationReLU.class
                && reluIsPlain(relu));
    }

    /** ReLU with no threshold, cap or negative slope: its derivative is 1 exactly where its output is positive. */
    private static boolean reluIsPlain(ActivationReLU relu) {
        return relu.equals(new ActivationReLU());
    }

    private static Field field() {
        try {
            Field f = ConvolutionLayer.class.getDeclaredField("helper");
            f.setAccessible(true);
            return f;
        } catch (ReflectiveOperationException | RuntimeException e) {
            log.debug("DL4J's convolution layer has no helper field to set: {}", e.toString());
            return null;
        }
    }
}
