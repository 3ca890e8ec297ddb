package org.zoo4j.runtime;

import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.updater.graph.ComputationGraphUpdater;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A graph's updater (Adam, SGD, ...) that knows the graph's own gradient when it sees it.
 *
 * <p>DL4J's updater takes the standard path, its updater blocks working on views of the gradient made once, only when
 * the gradient's flat array is the very object it holds. In M2.1 {@code DefaultGradient.gradient()} returns a new
 * reshaped view on every call, so each step takes the path meant for a gradient computed by another network: for every
 * parameter, views of the parameters and the gradient made afresh, twice (before and after the update, for
 * regularisation, whether the layer has any or not). Each view is a few ND4J and JavaCPP objects tracked for release
 * through the garbage collector, which live until the next young collection: on LeNet-5 a large share of those a
 * training step makes. This updater hands DL4J's the same gradient with its own flat array in place when the
 * gradient's array lies over exactly that memory, so the standard path runs on the same numbers; a gradient from
 * elsewhere goes the other path as before. It shares the updater state (Adam's moments) of the updater it replaces.
 */
public final class OwnGradientUpdater extends ComputationGraphUpdater {
    /** {@code state}: the replaced updater's state array, shared (null where the updater has no state). */
    OwnGradientUpdater(ComputationGraph graph, INDArray state) {
        super(graph, state);
    }

    /**
     * Puts this updater in place of {@code graph}'s own when that is DL4J's (exactly its class), sharing its state;
     * returns whether it did.
     */
    static boolean install(ComputationGraph graph) {
        ComputationGraphUpdater current = graph.getUpdater(true);
        if (current == null || current.getClass() != ComputationGraphUpdater.class) {
            return false;
        }
        graph.setUpdater(new OwnGradientUpdater(graph, current.getStateViewArray()));
        return true;
    }

    @Override
    public void update(Gradient gradient, int iteration, int epoch, int batchSize, LayerWorkspaceMgr workspaceMgr) {
        INDArray own = getFlattenedGradientsView();
        super.update(isOwn(gradient, own) ? new OwnView(gradient, own) : gradient, iteration, epoch, batchSize,
                workspaceMgr);
    }

    /** Whether {@code gradient}'s flat array covers exactly the memory of {@code own}, the graph's gradient array. */
    static boolean isOwn(Gradient gradient, INDArray own) {
        if (own == null) {
            return false;
        }
        INDArray flat = gradient.gradient();
        return flat != null && flat.length() == own.length() && flat.dataType() == own.dataType()
                && flat.elementWiseStride() == 1 && own.elementWiseStride() == 1
                && start(flat) == start(own);
    }

    private static long start(INDArray array) {
        return array.data().address() + array.offset() * array.data().getElementSize();
    }

    /** {@code inner} with {@code flat} as its flat array: the same memory, the object the updater compares. */
    private record OwnView(Gradient inner, INDArray flat) implements Gradient {
        @Override
        public Map<String, INDArray> gradientForVariable() {
            return inner.gradientForVariable();
        }

        @Override
        public INDArray gradient(List<String> order) {
            return inner.gradient(order);
        }

        @Override
        public INDArray gradient() {
            return flat;
        }

        @Override
        public void clear() {
            inner.clear();
        }

        @Override
        public INDArray getGradientFor(String variable) {
            return inner.getGradientFor(variable);
        }

        @Override
        public INDArray setGradientFor(String variable, INDArray newGradient) {
            return inner.setGradientFor(variable, newGradient);
        }

        @Override
        public INDArray setGradientFor(String variable, INDArray newGradient, Character flatteningOrder) {
            return inner.setGradientFor(variable, newGradient, flatteningOrder);
        }

        @Override
        public Character flatteningOrderForVariable(String variable) {
            return inner.flatteningOrderForVariable(variable);
        }
    }
}
