package org.zoo4j.runtime;

import java.util.ArrayList;
import java.util.Map;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.layers.BaseLayer;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.broadcast.BiasAdd;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The products of a fully connected layer ({@link GemmDenseLayer}, {@link GemmOutputLayer}) written straight into their
 * row-major outputs. DL4J's {@code INDArray.mmuli} computes into a new column-major array and copies that into the
 * output (the {@code assign} calls that took 16% of a LeNet-5 training step in ND4J's profiler), and adds the bias with
 * a broadcast op; here one {@code matmul} op and libnd4j's {@code biasadd}, the same arithmetic in the same order.
 */
final class DenseProducts {
    private DenseProducts() {
    }

    /** What the products need of DL4J's layer that DL4J keeps protected. */
    interface Access {
        BaseLayer<?> layer();

        INDArray input();

        INDArray mask();

        Map<String, INDArray> gradientViews();

        /** DL4J's input dropout, applied (once) to the layer's input when training. */
        void applyDropout(boolean training, LayerWorkspaceMgr workspaceMgr);

        /** The input gradient through DL4J's input dropout, and weight noise forgotten, as DL4J's backprop ends. */
        INDArray dropoutBackprop(INDArray epsilon);
    }

    /**
     * Whether the layer's pass can be these products: float, no mask, weight noise or layer norm, a 2D input of the
     * width the weights take (anything else goes to DL4J's path, which also gives DL4J's errors).
     */
    static boolean apply(Access a) {
        BaseLayer<?> layer = a.layer();
        INDArray x = a.input();
        INDArray w = layer.getParam("W");
        return x != null && a.mask() == null && !layer.hasLayerNorm() && layer.layerConf().getWeightNoise() == null
                && x.rank() == 2 && x.dataType() == DataType.FLOAT && w.dataType() == DataType.FLOAT
                && x.size(1) == w.size(0);
    }

    /** input W + b into a new activations array; call only where {@link #apply} holds. */
    static INDArray preOutput(Access a, boolean training, LayerWorkspaceMgr workspaceMgr) {
        BaseLayer<?> layer = a.layer();
        a.applyDropout(training, workspaceMgr);
        INDArray x = a.input();
        INDArray w = layer.getParam("W");
        INDArray z = workspaceMgr.createUninitialized(ArrayType.ACTIVATIONS, DataType.FLOAT, new long[] {x.size(0),
                w.size(1)}, 'c');
        Nd4j.gemm(x, w, z, false, false, 1.0, 0.0);
        if (layer.hasBias()) {
            INDArray b = layer.getParam("b");
            Nd4j.exec(new BiasAdd(z, b.reshape(b.length()), z, false));
        }
        return z;
    }

    /**
     * Weight and bias gradients into the layer's gradient views from the pre-activation gradient {@code delta}, and the
     * input gradient into a new row-major array (DL4J's takes {@code mmuli} and a transpose).
     */
    static INDArray backprop(Access a, INDArray delta, LayerWorkspaceMgr workspaceMgr,
                             org.deeplearning4j.nn.gradient.Gradient gradient) {
        BaseLayer<?> layer = a.layer();
        INDArray x = a.input();
        INDArray w = layer.getParam("W");
        if (layer.hasBias()) {
            INDArray db = a.gradientViews().get("b");
            delta.sum(db, 0);
            gradient.gradientForVariable().put("b", db);
        }
        INDArray dw = a.gradientViews().get("W");
        Nd4j.gemm(x, delta, dw, true, false, 1.0, 0.0);
        gradient.gradientForVariable().put("W", dw);
        INDArray dx = workspaceMgr.createUninitialized(ArrayType.ACTIVATION_GRAD, DataType.FLOAT, x.shape(), 'c');
        Nd4j.gemm(delta, w, dx, false, true, 1.0, 0.0);
        return a.dropoutBackprop(dx);
    }

    /** Takes over the original layer's index, listeners, counters, parameters and gradient views. */
    static void adopt(BaseLayer<?> replacement, Layer original) {
        replacement.setIndex(original.getIndex());
        replacement.setListeners(new ArrayList<>(original.getListeners()));
        replacement.setIterationCount(original.getIterationCount());
        replacement.setEpochCount(original.getEpochCount());
        replacement.setParamsViewArray(original.params());
        replacement.setParamTable(original.paramTable());
        if (original.getGradientsViewArray() != null) {
            replacement.setBackpropGradientsViewArray(original.getGradientsViewArray());
        }
    }
}
