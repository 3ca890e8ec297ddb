package org.zoo4j.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.Random;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.misc.FrozenLayer;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.params.BatchNormalizationParamInitializer;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.zoo4j.Zoo;

class BatchNormFoldingTest {

    /** Running statistics, scales and shifts far from their initial 0 and 1, so that a wrong fold shows. */
    private static void randomiseBatchNorms(ComputationGraph graph, long seed) {
        Random random = new Random(seed);
        for (var layer : graph.getLayers()) {
            Map<String, INDArray> params = layer.paramTable();
            for (var e : params.entrySet()) {
                INDArray p = e.getValue();
                switch (e.getKey()) {
                    case BatchNormalizationParamInitializer.GAMMA -> fill(p, random, 0.5, 1.5);
                    case BatchNormalizationParamInitializer.BETA, BatchNormalizationParamInitializer.GLOBAL_MEAN ->
                            fill(p, random, -0.5, 0.5);
                    case BatchNormalizationParamInitializer.GLOBAL_VAR -> fill(p, random, 0.2, 3.0);
                    case BatchNormalizationParamInitializer.GLOBAL_LOG_STD -> fill(p, random, -0.4, 0.3);
                    case "b" -> fill(p, random, -0.3, 0.3);
                    default -> {
                    }
                }
            }
        }
    }

    private static void fill(INDArray p, Random random, double low, double high) {
        for (long i = 0; i < p.length(); i++) {
            p.putScalar(i, low + (high - low) * random.nextDouble());
        }
    }

    private static long batchNorms(ComputationGraph graph) {
        return graph.getConfiguration().getVertices().values().stream()
                .filter(v -> v instanceof org.deeplearning4j.nn.conf.graph.LayerVertex l
                        && l.getLayerConf().getLayer() instanceof BatchNormalization)
                .count();
    }

    private static double maxRelativeDifference(INDArray a, INDArray b) {
        double scale = Math.max(1e-6, a.amaxNumber().doubleValue());
        return a.sub(b).amaxNumber().doubleValue() / scale;
    }

    @Test
    void resnetFoldsEveryBatchNormAndGivesTheSameOutputs() {
        ComputationGraph trained = Zoo.create("resnet20", Map.of("input", "3,16,16", "numClasses", 10, "shortcut", "B"));
        randomiseBatchNorms(trained, 7);
        INDArray before = trained.params().dup();
        INDArray x = Nd4j.rand(DataType.FLOAT, 4, 3, 16, 16).subi(0.5);
        INDArray expected = trained.outputSingle(false, x.dup());
        // conv1, 2 per block x 9 blocks, and the 2 projection shortcuts
        assertEquals(21, BatchNormFolding.pairs(trained.getConfiguration()).size());
        ComputationGraph folded = BatchNormFolding.fold(trained);
        try {
            assertEquals(0, batchNorms(folded));
            assertEquals(21, batchNorms(trained));
            INDArray actual = folded.outputSingle(false, x.dup());
            // Softmax outputs: the logits' float rounding only
            assertTrue(maxRelativeDifference(expected, actual) < 1e-4,
                    () -> "folded output differs: " + expected.sub(actual).amaxNumber());
            assertEquals(before, trained.params(), "the trained network is not changed");
            // The batch norms' parameters are gone; the convolutions gained a bias each
            assertTrue(folded.numParams() < trained.numParams());
        } finally {
            folded.close();
        }
    }

    /**
     * A hand-made graph with each case: log-std and plain variance, locked gamma/beta, a frozen convolution with a
     * bias, a convolution read by two vertices (not folded), a batch norm after something else (not folded), and a
     * batch norm configured with ReLU, which DL4J's layer does not apply (nor may the fold).
     */
    private static ComputationGraph mixed(boolean useLogStd) {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().seed(3).dataType(DataType.FLOAT)
                .graphBuilder().addInputs("in").setInputTypes(InputType.convolutional(8, 8, 2))
                .addLayer("c1", new ConvolutionLayer.Builder(3, 3).padding(1, 1).nOut(4).hasBias(false)
                        .activation(Activation.IDENTITY).build(), "in")
                .addLayer("n1", new BatchNormalization.Builder().useLogStd(useLogStd).activation(Activation.RELU)
                        .build(), "c1")
                .addLayer("c2", new FrozenLayer(new ConvolutionLayer.Builder(1, 1).nOut(4).hasBias(true)
                        .activation(Activation.IDENTITY).build()), "n1")
                .addLayer("n2", new BatchNormalization.Builder().useLogStd(useLogStd).lockGammaBeta(true)
                        .gamma(1.5).beta(-0.25).build(), "c2")
                .addLayer("c3", new ConvolutionLayer.Builder(3, 3).padding(1, 1).nOut(4)
                        .activation(Activation.IDENTITY).build(), "n2")
                .addLayer("n3", new BatchNormalization.Builder().useLogStd(useLogStd).build(), "c3")
                .addVertex("add", new ElementWiseVertex(ElementWiseVertex.Op.Add), "n3", "c3")
                .addLayer("n4", new BatchNormalization.Builder().useLogStd(useLogStd).build(), "add")
                .addLayer("pool", new GlobalPoolingLayer.Builder(PoolingType.AVG).build(), "n4")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(3)
                        .activation(Activation.SOFTMAX).build(), "pool")
                .setOutputs("out").build();
        ComputationGraph graph = new ComputationGraph(conf);
        graph.init();
        return graph;
    }

    @Test
    void foldsOnlyWhereTheConvolutionFeedsTheBatchNormAlone() {
        for (boolean useLogStd : new boolean[] {true, false}) {
            ComputationGraph trained = mixed(useLogStd);
            randomiseBatchNorms(trained, useLogStd ? 11 : 12);
            assertEquals(Map.of("c1", "n1", "c2", "n2"), BatchNormFolding.pairs(trained.getConfiguration()));
            INDArray x = Nd4j.rand(DataType.FLOAT, 5, 2, 8, 8).subi(0.5);
            INDArray expected = trained.outputSingle(false, x.dup());
            ComputationGraph folded = BatchNormFolding.fold(trained);
            try {
                assertNull(folded.getVertex("n1"));
                assertNull(folded.getVertex("n2"));
                assertFalse(folded.getVertex("n3") == null, "c3 is also read by 'add': n3 stays");
                assertFalse(folded.getVertex("n4") == null);
                assertEquals(4, folded.getLayer("c1").getParam("b").length(), "c1 gained a bias");
                INDArray actual = folded.outputSingle(false, x.dup());
                assertTrue(maxRelativeDifference(expected, actual) < 1e-4,
                        () -> "useLogStd=" + useLogStd + ": folded output differs by " + expected.sub(actual).amaxNumber());
            } finally {
                folded.close();
            }
        }
    }

    @Test
    void theSwitchKeepsTheTrainedNetwork() throws Exception {
        ComputationGraph trained = mixed(true);
        LayerHelpersTest.withProperty(BatchNormFolding.SWITCH, "false", () ->
                assertSame(trained, BatchNormFolding.forInference(trained)));
        LayerHelpersTest.withProperty(BatchNormFolding.SWITCH, null, () -> {
            ComputationGraph folded = BatchNormFolding.forInference(trained);
            assertNotSame(trained, folded);
            folded.close();
        });
    }
}
