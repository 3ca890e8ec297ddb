package org.zoo4j.runtime;

import java.util.Map;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.vertex.impl.ElementWiseVertex;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * DL4J's element-wise addition of two inputs, for a residual block's sum that only a plain ReLU layer reads: its
 * training forward pass applies that ReLU itself and the {@link ReluActivationLayer} after it hands the result on. Put in
 * place of DL4J's vertex by {@link LayerHelpers}; the configuration stays DL4J's, so a saved network knows nothing of
 * it.
 *
 * <p>Why: DL4J's vertex copies its first input and adds the second in place, and the ReLU layer after it is a third
 * whole-array pass; here the three are one oneDNN binary primitive with the ReLU as a post-op ({@link
 * AddReluVertex.Plan}). Backprop is DL4J's: the gradient copied once for each input (the graph adds other gradients
 * into them in place, and wants them in this vertex's own workspace). Anything else (inference, other shapes or types,
 * more inputs, the dnnl natives missing) is DL4J's vertex as it is, the ReLU layer applying the ReLU.
 */
final class ResidualAddVertex extends ElementWiseVertex {
    private final Map<AddReluVertex.Shape4, AddReluVertex.Plan> plans = OneDnn.plans();
    private final OneDnn.Address address = new OneDnn.Address();
    /** Whether the last training forward pass was fused here (false: DL4J's). */
    private boolean fused;
    private long fusedPasses;

    ResidualAddVertex(ComputationGraph graph, ElementWiseVertex original, DataType dataType) {
        super(graph, original.getVertexName(), original.getVertexIndex(), original.getInputVertices(),
                original.getOutputVertices(), Op.Add, dataType);
        setOutputVertex(original.isOutputVertex());
    }

    /** Training forward passes that applied the ReLU here. */
    long fusedPasses() {
        return fusedPasses;
    }

    /** Whether the last training forward pass applied the ReLU (false: the ReLU layer must). */
    boolean reluAppliedInLastTrainingPass() {
        return fused;
    }

    @Override
    public INDArray doForward(boolean training, LayerWorkspaceMgr workspaceMgr) {
        fused = false;
        if (training && canDoForward() && inputs.length == 2 && OneDnn.available() && AddReluVertex.Impl.plain(inputs[0])
                && AddReluVertex.Impl.plain(inputs[1]) && inputs[0].equalShapes(inputs[1])
                && dataType == DataType.FLOAT) {
            AddReluVertex.Plan plan = plans.computeIfAbsent(new AddReluVertex.Shape4(inputs[0]),
                    AddReluVertex.Plan::create);
            if (plan.usable()) {
                INDArray out = workspaceMgr.createUninitialized(ArrayType.ACTIVATIONS, DataType.FLOAT,
                        inputs[0].shape(), 'c');
                plan.execute(inputs[0], inputs[1], out, address);
                fused = true;
                fusedPasses++;
                return out;
            }
        }
        return super.doForward(training, workspaceMgr);
    }

    @Override
    public Pair<Gradient, INDArray[]> doBackward(boolean tbptt, LayerWorkspaceMgr workspaceMgr) {
        if (!fused) {
            return super.doBackward(tbptt, workspaceMgr); // DL4J's forward pass set what its backward pass reads
        }
        // dL/da = dL/db = dL/dsum; the ReLU's gradient is its layer's
        return new Pair<>(null, new INDArray[] {workspaceMgr.dup(ArrayType.ACTIVATION_GRAD, epsilon),
                workspaceMgr.dup(ArrayType.ACTIVATION_GRAD, epsilon)});
    }

    @Override
    public String toString() {
        return "ResidualAddVertex(id=" + vertexIndex + ",name=\"" + vertexName + "\")";
    }
}
