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
import org.nd4j.linalg.factory.Nd4j;

/**
 * DL4J's activation layer for a plain ReLU, trained in one pass forward and two backward. Put in place of DL4J's by
 * {@link LayerHelpers}; the configuration is DL4J's own, so a saved network knows nothing of it.
 *
 * <p>DL4J's layer copies its input before applying the ReLU in place (it keeps the input for backprop), and in backprop
 * copies the input again and runs libnd4j's {@code relu_bp}, which calls a function per element: 2.9 ms on a
 * 128x16x32x32 batch where a plain element-wise pass takes 0.4. Here the forward pass writes relu(x) straight into
 * the output, and backprop is dL/dx = dL/dy where x > 0, else 0, in one pass ({@link ReluBackward}); both are DL4J's
 * to the bit for finite gradients (ReLU's derivative is 0 at 0 in both). Inference is DL4J's. Both passes are
 * element-wise, so in training they take arrays in oneDNN's blocked layout as they take NCHW ({@link OneDnn.Bridge}).
 *
 * <p>Where the residual sum before it applies the ReLU itself ({@link ResidualAddVertex}, linked by
 * {@link LayerHelpers}), a training forward pass here hands its input on: relu(y) is already there, and a whole-array
 * pass is saved. Backprop is the same either way (relu(y) is positive where y is): the gradient must be a new array in
 * this layer's own workspace, which DL4J checks, and it closes the one before.
 */
final class ReluActivationLayer extends ActivationLayer {
    private final ReluBackward backward = new ReluBackward();
    private ResidualAddVertex fusedBefore;
    private long trainingPasses;
    private long passThroughPasses;

    ReluActivationLayer(ActivationLayer original, DataType dataType) {
        super(original.conf(), dataType);
        setIndex(original.getIndex());
        setListeners(new ArrayList<>(original.getListeners()));
        setIterationCount(original.getIterationCount());
        setEpochCount(original.getEpochCount());
    }

    /** Training forward passes taken here (ReLU applied here or before). */
    long trainingPasses() {
        return trainingPasses;
    }

    /** Training forward passes in which the residual sum before applied the ReLU. */
    long passThroughPasses() {
        return passThroughPasses;
    }

    /** The residual sum before this layer, which may apply the ReLU itself. */
    void takeReluFrom(ResidualAddVertex before) {
        this.fusedBefore = before;
    }

    /** The gradient's pass, and how it was taken. */
    ReluBackward backward() {
        return backward;
    }

    /** The residual sum before this layer that may apply its ReLU, or null. */
    ResidualAddVertex fusedBefore() {
        return fusedBefore;
    }

    @Override
    public INDArray activate(boolean training, LayerWorkspaceMgr workspaceMgr) {
        if (!training) {
            return super.activate(false, workspaceMgr);
        }
        assertInputSet(false);
        trainingPasses++;
        if (fusedBefore != null && fusedBefore.reluAppliedInLastTrainingPass()) {
            passThroughPasses++;
            return input;
        }
        INDArray out = workspaceMgr.createUninitialized(ArrayType.ACTIVATIONS, input.dataType(), input.shape(),
                input.ordering());
        Nd4j.exec(new RectifiedLinear(input, out, 0.0));
        return out;
    }

    @Override
    public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr workspaceMgr) {
        assertInputSet(true);
        INDArray delta = workspaceMgr.createUninitialized(ArrayType.ACTIVATION_GRAD, input.dataType(), input.shape(),
                'c');
        backward.apply(input, false, epsilon, delta);
        return new Pair<>(new DefaultGradient(), delta);
    }

    /** Whether {@code conf} is an activation layer of plain ReLU (no threshold, cap or slope). */
    static boolean isPlainRelu(NeuralNetConfiguration conf) {
        return conf.getLayer() instanceof org.deeplearning4j.nn.conf.layers.ActivationLayer layer
                && LayerHelpers.isPlainRelu(layer.getActivationFn());
    }
}
