package org.zoo4j.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.gradient.DefaultGradient;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/** zoo4j's graph updater takes DL4J's standard path on the graph's own gradient, with the same results. */
class OwnGradientUpdaterTest {

    @BeforeAll
    static void backend() {
        Backend.init();
    }

    @Test
    void dl4jsUpdaterMistakesTheGraphsOwnGradientForAnotherNetworksAndZoo4jsDoesNot() {
        ComputationGraph graph = graph();
        graph.setInputs(batch(0).getFeatures());
        graph.setLabels(batch(0).getLabels());
        graph.computeGradientAndScore();
        INDArray own = graph.getUpdater().getFlattenedGradientsView();
        // DL4J compares the objects: M2.1's gradient() is a new view each call, so its updater takes the other path
        assertNotSame(own, graph.gradient().gradient());
        assertTrue(OwnGradientUpdater.isOwn(graph.gradient(), own));
        assertFalse(OwnGradientUpdater.isOwn(new DefaultGradient(own.dup()), own), "a copy is another network's");
        assertFalse(OwnGradientUpdater.isOwn(new DefaultGradient(own.get(NDArrayIndex.point(0),
                NDArrayIndex.interval(1, own.length()))), own), "a part of it is not it");
    }

    @Test
    void trainsBitForBitAsDl4jsUpdaterAndKeepsItsState() {
        ComputationGraph reference = graph();
        ComputationGraph swapped = graph();
        for (int i = 0; i < 3; i++) { // both with DL4J's updater first: Adam's moments are under way when it is swapped
            reference.fit(batch(i));
            swapped.fit(batch(i));
        }
        INDArray state = swapped.getUpdater().getStateViewArray();
        assertTrue(OwnGradientUpdater.install(swapped));
        assertInstanceOf(OwnGradientUpdater.class, swapped.getUpdater());
        assertSame(state, swapped.getUpdater().getStateViewArray(), "the replaced updater's state, not a copy");
        assertFalse(OwnGradientUpdater.install(swapped), "installed once");
        for (int i = 3; i < 8; i++) {
            reference.fit(batch(i));
            swapped.fit(batch(i));
        }
        assertArrayEquals(reference.params().data().asFloat(), swapped.params().data().asFloat());
        assertArrayEquals(reference.getUpdater().getStateViewArray().data().asFloat(),
                swapped.getUpdater().getStateViewArray().data().asFloat());
    }

    @Test
    void layerHelpersPutItInForTraining() {
        ComputationGraph graph = graph();
        LayerHelpers.installForTraining(graph);
        assertInstanceOf(OwnGradientUpdater.class, graph.getUpdater());
    }

    /**
     * Dense, batch norm (whose running statistics the updater must not divide by the batch) and output; L2 before the
     * update and weight decay after it, so that both of the updater's regularisation steps run.
     */
    private static ComputationGraph graph() {
        var conf = new NeuralNetConfiguration.Builder().seed(7).dataType(DataType.FLOAT).updater(new Adam(1e-2))
                .l2(1e-3).weightDecay(1e-3).graphBuilder().addInputs("in").setInputTypes(InputType.feedForward(6))
                .addLayer("dense", new DenseLayer.Builder().nOut(8).activation(Activation.TANH).build(), "in")
                .addLayer("bn", new BatchNormalization.Builder().nOut(8).build(), "dense")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(3)
                        .activation(Activation.SOFTMAX).build(), "bn")
                .setOutputs("out").build();
        ComputationGraph graph = new ComputationGraph(conf);
        graph.init();
        return graph;
    }

    private static DataSet batch(long seed) {
        Nd4j.getRandom().setSeed(100 + seed);
        INDArray x = Nd4j.randn(DataType.FLOAT, 5, 6);
        INDArray y = Nd4j.zeros(DataType.FLOAT, 5, 3);
        for (int i = 0; i < 5; i++) {
            y.putScalar(i, (i + seed) % 3, 1.0);
        }
        return new DataSet(x, y);
    }
}
