package org.zoo4j.runtime;

import java.util.ArrayList;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.gradient.DefaultGradient;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.layers.ActivationLayer;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.scalar.RectifiedLinear;
import org.nd4j.linalg.api.ops.impl.scalar.Step;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.MulOp;
import org.nd4j.linalg.factory.Nd4j;

/**
 * DL4J's activation layer for a plain ReLU, trained in one pass forward and two backward. Put in place of DL4J's by
 * {@link LayerHelpers}; the configuration is DL4J's own, so a saved network knows nothing of it.
 *
 * <p>DL4J's layer copies its input before applying the ReLU in place (it keeps the input for backprop), and in backprop
 * copies the input again and runs libnd4j's {@code relu_bp}, which calls a function per element: 2.9 ms on a
 * 128x16x32x32 batch where a plain element-wise pass takes 0.4. Here the forward pass writes relu(x) straight into
 * the output, and backprop is dL/dx = dL/dy * step(x), two plain passes; both are DL4J's to the bit for finite
 * gradients (ReLU's derivative is 0 at 0 in both; an infinite dL/dy where x <= 0 gives NaN here, 0 in DL4J's, and the
 * trainer stops on the NaN loss that comes with it either way). Inference is DL4J's.
 */
final class ReluActivationLayer extends ActivationLayer {
    private long trainingPasses;

    ReluActivationLayer(ActivationLayer original, DataType dataType) {
        super(original.conf(), dataType);
        setIndex(original.getIndex());
        setListeners(new ArrayList<>(original.getListeners()));
        setIterationCount(original.getIterationCount());
        setEpochCount(original.getEpochCount());
    }

    /** Training forward passes taken here. */
    long trainingPasses() {
        return trainingPasses;
    }

    @Override
    public INDArray activate(boolean training, LayerWorkspaceMgr workspaceMgr) {
        if (!training) {
            return super.activate(false, workspaceMgr);
        }
        assertInputSet(false);
        trainingPasses++;
        INDArray out = workspaceMgr.createUninitialized(ArrayType.ACTIVATIONS, input.dataType(), input.shape(),
                input.ordering());
        Nd4j.exec(new RectifiedLinear(input, out, 0.0));
        return out;
    }

    @Override
    public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr workspaceMgr) {
        assertInputSet(true);
        INDArray delta = workspaceMgr.createUninitialized(ArrayType.ACTIVATION_GRAD, input.dataType(), input.shape(),
                input.ordering());
        Nd4j.exec(new Step(input, delta, 0.0)); // 1 where x > 0, else 0
        Nd4j.exec(new MulOp(epsilon, delta, delta));
        return new Pair<>(new DefaultGradient(), delta);
    }

    /** Whether {@code conf} is an activation layer of plain ReLU (no threshold, cap or slope). */
    static boolean isPlainRelu(NeuralNetConfiguration conf) {
        return conf.getLayer() instanceof org.deeplearning4j.nn.conf.layers.ActivationLayer layer
                && LayerHelpers.isPlainRelu(layer.getActivationFn());
    }
}
