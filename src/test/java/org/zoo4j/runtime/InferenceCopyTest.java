package org.zoo4j.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.Random;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.misc.FrozenLayer;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.params.BatchNormalizationParamInitializer;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.activations.impl.ActivationReLU;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.nd4j.linalg.ops.transforms.Transforms;
import org.zoo4j.Zoo;
import org.zoo4j.base.ConfigException;

class InferenceCopyTest {

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

    private static long layersOf(ComputationGraph graph, Class<?> type) {
        return graph.getConfiguration().getVertices().values().stream()
                .filter(v -> v instanceof org.deeplearning4j.nn.conf.graph.LayerVertex l
                        && type.isInstance(l.getLayerConf().getLayer()))
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
        assertEquals(21, InferenceCopy.batchNormPairs(trained.getConfiguration()).size());
        ComputationGraph copy = InferenceCopy.of(trained);
        try {
            assertEquals(0, layersOf(copy, BatchNormalization.class));
            assertEquals(21, layersOf(trained, BatchNormalization.class));
            assertEquals(19, layersOf(trained, ActivationLayer.class));
            assertEquals(0, layersOf(copy, ActivationLayer.class),
                    "conv1's and each block's first ReLU join their convolution, each block's last its sum");
            assertEquals(9, copy.getConfiguration().getVertices().values().stream()
                    .filter(v -> v instanceof AddReluVertex).count());
            INDArray actual = copy.outputSingle(false, x.dup());
            // Softmax outputs: the logits' float rounding only
            assertTrue(maxRelativeDifference(expected, actual) < 1e-4,
                    () -> "copy's output differs: " + expected.sub(actual).amaxNumber());
            assertEquals(before, trained.params(), "the trained network is not changed");
            // The batch norms' parameters are gone; the convolutions gained a bias each
            assertTrue(copy.numParams() < trained.numParams());
            requireOneDnn();
            long reorders = 0;
            int fusing = 0;
            for (var layer : copy.getLayers()) {
                if (LayerHelpers.helperOf(layer) instanceof OneDnnConvolutionHelper h) {
                    assertTrue(h.inferenceOnly());
                    assertEquals(0, h.fallbackCalls(), layer.conf().getLayer().getLayerName());
                    assertTrue(h.forwardPasses() > 0);
                    reorders += h.weightReorders();
                    fusing += h.fusedActivations() == h.forwardPasses() ? 1 : 0;
                    assertTrue(h.fusedActivations() == 0 || h.fusedActivations() == h.forwardPasses());
                }
            }
            assertTrue(reorders > 0, "the test needs weights that oneDNN reorders");
            assertEquals(10, fusing, "conv1 and each block's first convolution apply their ReLU themselves");
            for (var vertex : copy.getVertices()) {
                if (vertex instanceof AddReluVertex.Impl sum) {
                    assertEquals(0, sum.nd4jCalls(), vertex.getVertexName());
                    assertEquals(1, sum.onednnCalls(), vertex.getVertexName());
                }
            }
            INDArray again = copy.outputSingle(false, x.dup());
            assertEquals(actual, again);
            long reordersAfter = 0;
            for (var layer : copy.getLayers()) {
                if (LayerHelpers.helperOf(layer) instanceof OneDnnConvolutionHelper h) {
                    reordersAfter += h.weightReorders();
                }
            }
            assertEquals(reorders, reordersAfter, "the second call reuses the weights reordered by the first");
        } finally {
            copy.close();
        }
    }

    /**
     * A hand-made graph with each case: log-std and plain variance, locked gamma/beta, a frozen convolution with a
     * bias, a convolution read by two vertices (not folded), a batch norm after something else (not folded), a
     * batch norm configured with ReLU, which DL4J's layer does not apply (nor may the fold), ReLU layers after
     * batch norms, a ReLU layer straight after a convolution, a convolution with its own ReLU, a leaky ReLU layer, and
     * a residual sum with a ReLU after it.
     */
    private static ComputationGraph mixed(boolean useLogStd) {
        return mixed(useLogStd, DataType.FLOAT);
    }

    private static ComputationGraph mixed(boolean useLogStd, DataType dataType) {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().seed(3).dataType(dataType)
                .graphBuilder().addInputs("in").setInputTypes(InputType.convolutional(8, 8, 2))
                .addLayer("c1", new ConvolutionLayer.Builder(3, 3).padding(1, 1).nOut(4).hasBias(false)
                        .activation(Activation.IDENTITY).build(), "in")
                .addLayer("n1", new BatchNormalization.Builder().useLogStd(useLogStd).activation(Activation.RELU)
                        .build(), "c1")
                .addLayer("c2", new FrozenLayer(new ConvolutionLayer.Builder(1, 1).nOut(4).hasBias(true)
                        .activation(Activation.IDENTITY).build()), "n1")
                .addLayer("n2", new BatchNormalization.Builder().useLogStd(useLogStd).lockGammaBeta(true)
                        .gamma(1.5).beta(-0.25).build(), "c2")
                .addLayer("r2", new ActivationLayer.Builder().activation(Activation.RELU).build(), "n2")
                .addLayer("c3", new ConvolutionLayer.Builder(3, 3).padding(1, 1).nOut(4)
                        .activation(Activation.IDENTITY).build(), "r2")
                .addLayer("n3", new BatchNormalization.Builder().useLogStd(useLogStd).build(), "c3")
                .addVertex("add", new ElementWiseVertex(ElementWiseVertex.Op.Add), "n3", "c3")
                .addLayer("n4", new BatchNormalization.Builder().useLogStd(useLogStd).build(), "add")
                .addLayer("r4", new ActivationLayer.Builder().activation(Activation.RELU).build(), "n4")
                .addLayer("c5", new ConvolutionLayer.Builder(1, 1).nOut(4).activation(Activation.IDENTITY).build(),
                        "r4")
                .addLayer("r5", new ActivationLayer.Builder().activation(Activation.RELU).build(), "c5")
                .addLayer("c6", new ConvolutionLayer.Builder(3, 3).padding(1, 1).nOut(4)
                        .activation(Activation.RELU).build(), "r5")
                .addLayer("r6", new ActivationLayer.Builder().activation(Activation.LEAKYRELU).build(), "c6")
                .addLayer("c7", new ConvolutionLayer.Builder(3, 3).padding(1, 1).nOut(4)
                        .activation(Activation.IDENTITY).build(), "r6")
                .addVertex("sum", new ElementWiseVertex(ElementWiseVertex.Op.Add), "c7", "r6")
                .addLayer("r7", new ActivationLayer.Builder().activation(Activation.RELU).build(), "sum")
                .addLayer("pool", new GlobalPoolingLayer.Builder(PoolingType.AVG).build(), "r7")
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
            assertEquals(Map.of("c1", "n1", "c2", "n2"), InferenceCopy.batchNormPairs(trained.getConfiguration()));
            assertEquals(Map.of("c5", "r5"), InferenceCopy.reluPairs(trained.getConfiguration()),
                    "before the fold only c5 feeds a ReLU directly");
            assertEquals(Map.of("sum", "r7"), InferenceCopy.addReluPairs(trained.getConfiguration()));
            INDArray x = Nd4j.rand(DataType.FLOAT, 5, 2, 8, 8).subi(0.5);
            INDArray expected = trained.outputSingle(false, x.dup());
            ComputationGraph copy = InferenceCopy.of(trained);
            try {
                assertNull(copy.getVertex("n1"));
                assertNull(copy.getVertex("n2"));
                assertFalse(copy.getVertex("n3") == null, "c3 is also read by 'add': n3 stays");
                assertFalse(copy.getVertex("n4") == null);
                assertNull(copy.getVertex("r2"), "c2 (with n2 folded in) applies r2's ReLU");
                assertFalse(copy.getVertex("r4") == null, "r4 reads a batch norm that stays");
                assertNull(copy.getVertex("r5"), "c5 applies r5's ReLU");
                assertFalse(copy.getVertex("r6") == null, "a leaky ReLU is not merged");
                assertNull(copy.getVertex("r7"), "the sum applies r7's ReLU");
                assertTrue(copy.getVertex("add") instanceof org.deeplearning4j.nn.graph.vertex.impl.ElementWiseVertex,
                        "an addition read by a batch norm stays DL4J's");
                assertEquals(4, copy.getLayer("c1").getParam("b").length(), "c1 gained a bias");
                INDArray actual = copy.outputSingle(false, x.dup());
                assertTrue(maxRelativeDifference(expected, actual) < 1e-4,
                        () -> "useLogStd=" + useLogStd + ": output differs by " + expected.sub(actual).amaxNumber());
                requireOneDnn();
                for (String conv : new String[] {"c2", "c5", "c6"}) {
                    var h = (OneDnnConvolutionHelper) LayerHelpers.helperOf(copy.getLayer(conv));
                    assertEquals(1, h.fusedActivations(), conv + " applies its ReLU inside the convolution");
                }
                for (String conv : new String[] {"c1", "c3", "c7"}) {
                    var h = (OneDnnConvolutionHelper) LayerHelpers.helperOf(copy.getLayer(conv));
                    assertEquals(0, h.fusedActivations(), conv + " has no ReLU of its own");
                }
                assertEquals(1, ((AddReluVertex.Impl) copy.getVertex("sum")).onednnCalls());
            } finally {
                copy.close();
            }
        }
    }

    /**
     * A double-precision graph folds too (its weights need no cast, so the fold frees a copy of them), and the trained
     * network is unchanged and still runs after the copy is closed.
     */
    @Test
    void aDoublePrecisionGraphFoldsAndKeepsItsOwnWeights() {
        ComputationGraph trained = mixed(false, DataType.DOUBLE);
        try {
            randomiseBatchNorms(trained, 13);
            INDArray before = trained.params().dup();
            INDArray x = Nd4j.rand(DataType.DOUBLE, 5, 2, 8, 8).subi(0.5);
            INDArray expected = trained.outputSingle(false, x.dup());
            ComputationGraph copy = InferenceCopy.of(trained);
            try {
                assertNull(copy.getVertex("n1"));
                INDArray actual = copy.outputSingle(false, x.dup());
                assertTrue(maxRelativeDifference(expected, actual) < 1e-10,
                        () -> "output differs by " + expected.sub(actual).amaxNumber());
                var sum = (AddReluVertex.Impl) copy.getVertex("sum");
                assertEquals(1, sum.nd4jCalls(), "double precision: ND4J's addition and ReLU");
                assertEquals(0, sum.onednnCalls());
            } finally {
                copy.close();
            }
            assertEquals(before, trained.params(), "the trained network's weights are unchanged and still readable");
            assertEquals(expected, trained.outputSingle(false, x.dup()));
        } finally {
            trained.close();
        }
    }

    /** On the other convolution paths the copy gives the same outputs too (their helpers are the training ones). */
    @Test
    void theCopyGivesTheSameOutputsOnTheOtherConvolutionPaths() throws Exception {
        ComputationGraph trained = mixed(false);
        randomiseBatchNorms(trained, 13);
        INDArray x = Nd4j.rand(DataType.FLOAT, 3, 2, 8, 8).subi(0.5);
        INDArray expected = trained.outputSingle(false, x.dup());
        for (String path : new String[] {"direct", "dl4j"}) {
            LayerHelpersTest.withProperty(LayerHelpers.CONVOLUTION, path, () -> {
                ComputationGraph copy = InferenceCopy.of(trained);
                try {
                    assertNull(copy.getVertex("n2"));
                    assertNull(copy.getVertex("r5"), "merged here too: DL4J's layer applies the convolution's ReLU");
                    assertFalse(LayerHelpers.helperOf(copy.getLayer("c2")) instanceof OneDnnConvolutionHelper);
                    INDArray actual = copy.outputSingle(false, x.dup());
                    assertTrue(maxRelativeDifference(expected, actual) < 1e-4,
                            () -> path + ": output differs by " + expected.sub(actual).amaxNumber());
                } finally {
                    copy.close();
                }
            });
        }
    }

    /** An inference helper reorders its weights once, gives the training helper's outputs, and has no backward pass. */
    @Test
    void theInferenceHelperKeepsItsWeightsAndRefusesBackprop() {
        requireOneDnn();
        OneDnnConvolutionHelper helper = OneDnnConvolutionHelper.forInference(DataType.FLOAT, true, false);
        OneDnnConvolutionHelper training = new OneDnnConvolutionHelper(DataType.FLOAT, true, true);
        INDArray x = Nd4j.rand(DataType.FLOAT, 2, 16, 6, 6).subi(0.5);
        INDArray w = Nd4j.rand(DataType.FLOAT, 16, 16, 3, 3).subi(0.5);
        INDArray b = Nd4j.rand(DataType.FLOAT, 1, 16).subi(0.5);
        int[] k = {3, 3};
        int[] s = {1, 1};
        int[] p = {1, 1};
        int[] d = {1, 1};
        LayerWorkspaceMgr noWorkspaces = LayerWorkspaceMgr.noWorkspaces();
        INDArray expected = training.preOutput(x, w, b, k, s, p, null, null, ConvolutionMode.Truncate, d,
                CNN2DFormat.NCHW, noWorkspaces);
        for (int call = 1; call <= 3; call++) {
            INDArray z = helper.preOutput(x, w, b, k, s, p, null, null, ConvolutionMode.Truncate, d, CNN2DFormat.NCHW,
                    noWorkspaces);
            assertEquals(expected, z);
        }
        assertEquals(0, helper.fallbackCalls());
        assertEquals(3, helper.forwardPasses());
        assertEquals(1, helper.weightReorders(), "16 channels: oneDNN's blocked weight layout, reordered once");
        assertEquals(2, helper.weightReuses());
        assertThrows(IllegalStateException.class, () -> helper.backpropGradient(x, w, b, expected, k, s, p,
                Nd4j.zeros(DataType.FLOAT, 1, 16), Nd4j.zerosLike(w), new ActivationIdentity(), null, null, null,
                ConvolutionMode.Truncate, d, CNN2DFormat.NCHW, noWorkspaces));
    }

    /**
     * An inference helper of a ReLU layer applies the ReLU in its forward pass and hands that output on as the
     * activation; an array it did not make gets the ReLU applied as usual.
     */
    @Test
    void theInferenceHelperOfAReluLayerAppliesTheReluItself() {
        requireOneDnn();
        OneDnnConvolutionHelper helper = OneDnnConvolutionHelper.forInference(DataType.FLOAT, true, true);
        OneDnnConvolutionHelper plain = OneDnnConvolutionHelper.forInference(DataType.FLOAT, true, false);
        LayerWorkspaceMgr noWorkspaces = LayerWorkspaceMgr.noWorkspaces();
        int[] d = {1, 1};
        // 3x3 with 32 channels (Winograd where oneDNN has it), 5x5 stride 2, 1x1 with 3 channels
        int[][] shapes = {{32, 32, 3, 1, 1}, {3, 8, 5, 2, 2}, {3, 5, 1, 1, 0}};
        for (int[] shape : shapes) {
            int ic = shape[0];
            int oc = shape[1];
            int[] k = {shape[2], shape[2]};
            int[] s = {shape[3], shape[3]};
            int[] p = {shape[4], shape[4]};
            INDArray x = Nd4j.rand(DataType.FLOAT, 2, ic, 9, 9).subi(0.5);
            INDArray w = Nd4j.rand(DataType.FLOAT, oc, ic, k[0], k[1]).subi(0.5);
            INDArray b = Nd4j.rand(DataType.FLOAT, 1, oc).subi(0.5);
            INDArray z = plain.preOutput(x, w, b, k, s, p, null, null, ConvolutionMode.Truncate, d, CNN2DFormat.NCHW,
                    noWorkspaces);
            assertTrue(z.minNumber().doubleValue() < 0, "the test needs negative pre-activations");
            INDArray expected = Transforms.relu(z, true);
            INDArray fused = helper.preOutput(x, w, b, k, s, p, null, null, ConvolutionMode.Truncate, d,
                    CNN2DFormat.NCHW, noWorkspaces);
            assertTrue(maxRelativeDifference(expected, fused) < 1e-6, () -> "differs by "
                    + expected.sub(fused).amaxNumber());
            assertSame(fused, helper.activate(fused, new ActivationReLU(), false), "no second pass");
            INDArray other = z.dup();
            assertEquals(expected, helper.activate(other, new ActivationReLU(), false),
                    "an array the forward pass did not make gets its ReLU");
        }
        assertEquals(0, helper.fallbackCalls());
        assertEquals(3, helper.fusedActivations());
        assertTrue(helper.implementations().contains("with ReLU"), helper::implementations);
    }

    private static void requireOneDnn() {
        // A failure, not a skip: the dnnl natives are a dependency of every CPU build
        assertTrue(OneDnn.available(), () -> "dnnl natives did not load: " + OneDnn.failure());
    }

    @Test
    void theSwitchKeepsTheTrainedNetwork() throws Exception {
        ComputationGraph trained = mixed(true);
        LayerHelpersTest.withProperty(InferenceCopy.SWITCH, "false", () -> {
            assertSame(trained, InferenceCopy.forInference(trained));
            assertEquals("the network as trained (zoo4j.inferenceCopy=false)", InferenceCopy.describe());
        });
        LayerHelpersTest.withProperty(InferenceCopy.SWITCH, null, () -> {
            ComputationGraph copy = InferenceCopy.forInference(trained);
            assertNotSame(trained, copy);
            assertNull(copy.getVertex("n2"));
            copy.close();
        });
        LayerHelpersTest.withProperty(InferenceCopy.SWITCH, " TRUE ", () -> assertTrue(InferenceCopy.enabled()));
        LayerHelpersTest.withProperty(InferenceCopy.SWITCH, "no", () -> {
            ConfigException e = assertThrows(ConfigException.class, () -> InferenceCopy.forInference(trained));
            assertEquals("zoo4j.inferenceCopy=no: give true or false", e.getMessage());
        });
    }
}
