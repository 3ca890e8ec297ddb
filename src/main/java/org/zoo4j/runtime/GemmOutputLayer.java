package org.zoo4j.runtime;

import java.util.Map;
import org.deeplearning4j.nn.layers.BaseLayer;
import org.deeplearning4j.nn.layers.OutputLayer;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * DL4J's output layer with its product written straight into its output ({@link DenseProducts}): DL4J computes it
 * three times a training step (the forward pass, the score, backprop), each time through a copy. Backprop is DL4J's.
 * Put in place of DL4J's by {@link LayerHelpers}; the configuration is DL4J's own.
 */
final class GemmOutputLayer extends OutputLayer implements DenseProducts.Access {
    GemmOutputLayer(OutputLayer original, DataType dataType) {
        super(original.conf(), dataType);
        DenseProducts.adopt(this, original);
        setLabels(original.getLabels());
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
