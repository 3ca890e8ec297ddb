package org.zoo4j.runtime;

import java.lang.ref.WeakReference;
import java.util.Map;
import org.deeplearning4j.nn.gradient.DefaultGradient;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.layers.BaseLayer;
import org.deeplearning4j.nn.layers.feedforward.dense.DenseLayer;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.scalar.RectifiedLinear;
import org.nd4j.linalg.api.ops.impl.scalar.Step;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.MulOp;
import org.nd4j.linalg.factory.Nd4j;

/**
 * DL4J's dense layer with its products written straight into their outputs ({@link DenseProducts}), and a backward
 * pass that reuses the forward pass's pre-activation instead of computing the whole product again, as DL4J's
 * {@code BaseLayer} does. Put in place of DL4J's by {@link LayerHelpers}; the configuration is DL4J's own, so a saved
 * network knows nothing of it.
 *
 * <p>The training forward pass keeps the pre-activation in an array of its own (a next layer that changes its input in
 * place, as dropout may, cannot touch it); backprop uses it when it is this same step's (the same input and weights,
 * still live in the workspace it was made in), else computes it as DL4J does. ReLU is one pass forward and two back,
 * as in {@link ReluActivationLayer}; other activations are DL4J's own functions on the kept array. Gradients agree with
 * DL4J's to float rounding (tested). Masks, weight noise, layer norm and other data types take DL4J's path.
 */
final class GemmDenseLayer extends DenseLayer implements DenseProducts.Access {
    private WeakReference<INDArray> keptInput = new WeakReference<>(null);
    private WeakReference<INDArray> keptWeights = new WeakReference<>(null);
    /**
     * Held strongly: a weak reference would leave it to the garbage collector's timing whether backprop reuses it or
     * takes DL4J's path, whose rounding differs, and two runs of one seed would end apart. Dropped after backprop.
     */
    private INDArray keptPreOutput;
    private long reusedPreOutputs;

    GemmDenseLayer(DenseLayer original, DataType dataType) {
        super(original.conf(), dataType);
        DenseProducts.adopt(this, original);
    }

    /** Backward passes that used the forward pass's pre-activation. */
    long reusedPreOutputs() {
        return reusedPreOutputs;
    }

    @Override
    protected Pair<INDArray, INDArray> preOutputWithPreNorm(boolean training, boolean forBackprop,
                                                            LayerWorkspaceMgr workspaceMgr) {
        assertInputSet(forBackprop);
        if (!DenseProducts.apply(this)) {
            return super.preOutputWithPreNorm(training, forBackprop, workspaceMgr);
        }
        INDArray z = DenseProducts.preOutput(this, training, workspaceMgr);
        return new Pair<>(z, z);
    }

    @Override
    public INDArray activate(boolean training, LayerWorkspaceMgr workspaceMgr) {
        IActivation fn = layerConf().getActivationFn();
        if (!training || !DenseProducts.apply(this)) {
            return super.activate(training, workspaceMgr);
        }
        INDArray z = preOutput(true, workspaceMgr);
        INDArray out;
        if (fn instanceof ActivationIdentity) {
            out = z; // backprop needs no pre-activation: nothing to keep
        } else {
            out = workspaceMgr.createUninitialized(ArrayType.ACTIVATIONS, DataType.FLOAT, z.shape(), 'c');
            if (LayerHelpers.isPlainRelu(fn)) {
                Nd4j.exec(new RectifiedLinear(z, out, 0.0));
            } else {
                out.assign(z);
                fn.getActivation(out, true);
            }
            keptPreOutput = z;
        }
        keptInput = new WeakReference<>(input);
        keptWeights = new WeakReference<>(getParam("W"));
        return out;
    }

    @Override
    public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr workspaceMgr) {
        assertInputSet(true);
        IActivation fn = layerConf().getActivationFn();
        boolean identity = fn instanceof ActivationIdentity;
        INDArray z = keptPreOutput;
        boolean sameStep = keptInput.get() == input && keptWeights.get() == getParam("W")
                && (identity || z != null && DirectConvolutionHelper.liveInItsWorkspace(z));
        forget();
        if (!sameStep || !DenseProducts.apply(this) || epsilon.dataType() != DataType.FLOAT) {
            return super.backpropGradient(epsilon, workspaceMgr);
        }
        reusedPreOutputs++;
        INDArray delta;
        if (identity) {
            delta = epsilon;
        } else if (LayerHelpers.isPlainRelu(fn)) {
            delta = workspaceMgr.createUninitialized(ArrayType.BP_WORKING_MEM, DataType.FLOAT, z.shape(), 'c');
            Nd4j.exec(new Step(z, delta, 0.0)); // 1 where z > 0, else 0: DL4J's derivative, 0 at 0
            Nd4j.exec(new MulOp(epsilon, delta, delta));
        } else {
            delta = fn.backprop(z, epsilon).getFirst(); // z is this layer's own: DL4J's function may overwrite it
        }
        Gradient gradient = new DefaultGradient();
        INDArray dx = DenseProducts.backprop(this, delta, workspaceMgr, gradient);
        return new Pair<>(gradient, dx);
    }

    @Override
    public void clear() {
        super.clear();
        forget();
    }

    private void forget() {
        keptInput = new WeakReference<>(null);
        keptWeights = new WeakReference<>(null);
        keptPreOutput = null;
    }

    @Override
    public BaseLayer<?> layer() {
        return this;
    }

    @Override
    public INDArray input() {
        return input;
    }

    @Override
    public INDArray mask() {
        return maskArray;
    }

    @Override
    public Map<String, INDArray> gradientViews() {
        return gradientViews;
    }

    @Override
    public void applyDropout(boolean training, LayerWorkspaceMgr workspaceMgr) {
        applyDropOutIfNecessary(training, workspaceMgr);
    }

    @Override
    public INDArray dropoutBackprop(INDArray epsilon) {
        weightNoiseParams.clear();
        return backpropDropOutIfPresent(epsilon);
    }
}
