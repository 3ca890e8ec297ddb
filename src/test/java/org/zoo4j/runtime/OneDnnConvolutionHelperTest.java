package org.zoo4j.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.vertex.GraphVertex;
import org.deeplearning4j.nn.graph.vertex.VertexIndices;
import org.deeplearning4j.nn.layers.FrozenLayer;
import org.deeplearning4j.nn.layers.mkldnn.MKLDNNConvHelper;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.transferlearning.FineTuneConfiguration;
import org.deeplearning4j.nn.transferlearning.TransferLearning;
import org.deeplearning4j.nn.weights.WeightInit;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.Nesterovs;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/**
 * zoo4j's oneDNN convolution helper computes what DL4J's own convolution computes (its built-in path, no helper):
 * outputs, input gradients, weight and bias gradients, per shape; gradients agree with finite differences; training
 * follows the same loss trajectory; the switches select the paths they name.
 */
class OneDnnConvolutionHelperTest {

    @BeforeAll
    static void backend() {
        Backend.init();
        assertTrue(OneDnn.available(), "the dnnl natives load here: " + OneDnn.failure());
    }

    /** One convolution: batch, channels, height, width, output channels, kernel, stride, padding, and the rest. */
    record Case(int n, int c, int h, int w, int o, int kh, int kw, int s, int p, ConvolutionMode mode, boolean bias,
                Activation act) {
        @Override
        public String toString() {
            return n + "x" + c + "x" + h + "x" + w + " -> " + o + " k" + kh + "x" + kw + " s" + s + " p" + p + " "
                    + mode + (bias ? " bias " : " no-bias ") + act;
        }
    }

    static final List<Case> CASES = List.of(
            new Case(2, 16, 12, 10, 16, 3, 3, 1, 1, ConvolutionMode.Truncate, true, Activation.IDENTITY),
            new Case(1, 3, 13, 9, 8, 3, 3, 1, 0, ConvolutionMode.Truncate, false, Activation.RELU),
            new Case(3, 8, 11, 14, 16, 3, 3, 2, 1, ConvolutionMode.Truncate, true, Activation.RELU),
            new Case(2, 16, 8, 8, 32, 1, 1, 1, 0, ConvolutionMode.Truncate, false, Activation.IDENTITY),
            new Case(2, 16, 9, 8, 32, 1, 1, 2, 0, ConvolutionMode.Truncate, true, Activation.IDENTITY),
            new Case(2, 5, 12, 11, 7, 5, 5, 1, 2, ConvolutionMode.Truncate, true, Activation.RELU),
            new Case(2, 3, 67, 59, 16, 11, 11, 4, 2, ConvolutionMode.Truncate, true, Activation.RELU),
            new Case(1, 32, 7, 5, 16, 3, 3, 1, 1, ConvolutionMode.Same, false, Activation.IDENTITY),
            new Case(2, 4, 10, 7, 6, 4, 4, 2, 0, ConvolutionMode.Same, true, Activation.RELU),
            new Case(2, 6, 10, 10, 4, 3, 3, 2, 0, ConvolutionMode.Truncate, true, Activation.IDENTITY),
            new Case(2, 64, 4, 4, 64, 3, 3, 1, 1, ConvolutionMode.Truncate, false, Activation.IDENTITY),
            new Case(1, 1, 28, 28, 6, 5, 5, 1, 0, ConvolutionMode.Truncate, true, Activation.RELU),
            new Case(2, 8, 6, 9, 8, 3, 3, 1, 2, ConvolutionMode.Truncate, true, Activation.IDENTITY),
            new Case(2, 16, 9, 9, 16, 3, 3, 2, 0, ConvolutionMode.Same, false, Activation.RELU),
            new Case(2, 16, 8, 8, 16, 3, 3, 1, 1, ConvolutionMode.Truncate, true, Activation.TANH),
            new Case(4, 32, 16, 16, 64, 3, 3, 2, 1, ConvolutionMode.Truncate, false, Activation.IDENTITY),
            new Case(2, 7, 9, 12, 5, 3, 5, 1, 1, ConvolutionMode.Truncate, true, Activation.IDENTITY),
            // Winograd by the default rule: 3x3 stride 1, at least 32 channels in and out, output at least 4x4
            new Case(2, 32, 8, 8, 32, 3, 3, 1, 1, ConvolutionMode.Truncate, true, Activation.RELU),
            new Case(3, 64, 6, 5, 48, 3, 3, 1, 1, ConvolutionMode.Same, false, Activation.IDENTITY),
            new Case(1, 32, 4, 4, 32, 3, 3, 1, 1, ConvolutionMode.Truncate, false, Activation.IDENTITY),
            new Case(2, 48, 10, 9, 64, 3, 3, 1, 0, ConvolutionMode.Truncate, true, Activation.IDENTITY));

    @Test
    void everyShapeMatchesDl4jsBuiltInConvolution() throws Exception {
        List<String> report = new ArrayList<>();
        for (Case c : CASES) {
            Compared r = compare(c, false);
            report.add(c + ": " + r);
        }
        System.out.println(String.join("\n", report));
    }

    @Test
    void arraysThatAreViewsOrNotContiguousGiveTheSameNumbers() throws Exception {
        // an input with an offset into a larger buffer, and a permuted (non-contiguous) one
        Case c = new Case(3, 8, 7, 9, 8, 3, 3, 1, 1, ConvolutionMode.Truncate, true, Activation.IDENTITY);
        System.out.println("views: " + compare(c, true));
    }

    /**
     * Finite differences of L = sum(R * conv(x; W, b)). L is linear in each of x, W and b, so a central difference with
     * a step of 1 is exact but for the float rounding of the output: no step-size trade-off to tune. One shape on the
     * direct algorithm, one on Winograd.
     */
    @Test
    void finiteDifferencesAgreeWithTheBackwardPass() throws Exception {
        for (Case c : List.of(new Case(2, 5, 7, 6, 4, 3, 3, 2, 1, ConvolutionMode.Truncate, true, Activation.IDENTITY),
                new Case(2, 32, 6, 6, 32, 3, 3, 1, 1, ConvolutionMode.Truncate, true, Activation.IDENTITY))) {
            MultiLayerNetwork net = single(c, 11);
            net.initGradientsView();
            LayerHelpers.install(net);
            assertEquals(1, LayerHelpers.convolutionLayersWithZoo4jHelper(net));
            Layer layer = net.getLayer(0);
            OneDnnConvolutionHelper helper = (OneDnnConvolutionHelper) LayerHelpers.helperOf(layer);
            LayerWorkspaceMgr mgr = LayerWorkspaceMgr.noWorkspaces();
            Nd4j.getRandom().setSeed(21);
            INDArray x = Nd4j.randn(DataType.FLOAT, c.n, c.c, c.h, c.w);
            layer.setInput(x, mgr);
            INDArray out = layer.activate(true, mgr);
            INDArray r = Nd4j.randn(DataType.FLOAT, out.shape());
            Pair<Gradient, INDArray> g = layer.backpropGradient(r.dup(), mgr);
            Map<String, INDArray> analytic = Map.of("x", g.getSecond().dup(),
                    "W", g.getFirst().getGradientFor("W").dup(), "b", g.getFirst().getGradientFor("b").dup());
            Map<String, INDArray> variables = Map.of("x", x, "W", layer.getParam("W"), "b", layer.getParam("b"));
            double worst = 0;
            for (String name : List.of("x", "W", "b")) {
                INDArray v = variables.get(name);
                INDArray grad = analytic.get(name).reshape(v.length());
                INDArray flat = v.reshape(v.length()); // a view: writes reach the layer's own arrays
                Random pick = new Random(5);
                for (int t = 0; t < 12; t++) {
                    long i = t == 0 ? 0 : t == 1 ? v.length() - 1 : (long) (pick.nextDouble() * v.length());
                    float original = flat.getFloat(i);
                    flat.putScalar(i, original + 1.0f);
                    double plus = loss(layer, x, r, mgr);
                    flat.putScalar(i, original - 1.0f);
                    double minus = loss(layer, x, r, mgr);
                    flat.putScalar(i, original);
                    double fd = (plus - minus) / 2;
                    double a = grad.getDouble(i);
                    double error = Math.abs(fd - a) / Math.max(1, Math.abs(a));
                    worst = Math.max(worst, error);
                    assertTrue(error < 1e-4, c + ": d/d" + name + "[" + i + "] backward " + a + ", finite difference "
                            + fd);
                }
            }
            assertEquals(0, helper.fallbackCalls());
            System.out.println("finite differences, " + c + ": worst relative error " + worst + "; "
                    + helper.implementations().trim());
        }
    }

    private static double loss(Layer layer, INDArray x, INDArray r, LayerWorkspaceMgr mgr) {
        layer.setInput(x, mgr);
        return layer.activate(false, mgr).castTo(DataType.DOUBLE).muli(r.castTo(DataType.DOUBLE)).sumNumber()
                .doubleValue();
    }

    /**
     * A small ConvNet trained ten steps on the same batch (the same arrays every step, the hardest case for the
     * helper's same-step checks) with the oneDNN helper and with DL4J's built-in convolution, zoo4j's other helpers in
     * both: the same losses and weights to float noise, and the helper's shortcuts taken.
     */
    @Test
    void aSmallConvNetTrainsAlongTheSameLossTrajectory() throws Exception {
        MultiLayerNetwork reference = convNet(17, DataType.FLOAT);
        MultiLayerNetwork tuned = reference.clone();
        // float rounding grows from step to step; how much is float noise is measured against the same training in
        // double precision (DL4J's built-in layers throughout: its oneDNN helpers take float only)
        MultiLayerNetwork exact = convNet(17, DataType.DOUBLE);
        exact.setParams(reference.params().castTo(DataType.DOUBLE));
        for (Layer layer : exact.getLayers()) {
            if (layer instanceof org.deeplearning4j.nn.layers.convolution.ConvolutionLayer) {
                LayerHelpers.removeConvolutionHelper(layer);
            }
        }
        LayerHelpers.install(reference);
        for (Layer layer : reference.getLayers()) {
            if (layer instanceof org.deeplearning4j.nn.layers.convolution.ConvolutionLayer) {
                LayerHelpers.removeConvolutionHelper(layer);
            }
        }
        LayerHelpers.install(tuned);
        List<OneDnnConvolutionHelper> helpers = oneDnnHelpers(tuned.getLayers());
        assertEquals(4, helpers.size());
        DataSet batch = batch(16, 3, 16, 16, 5, 3);
        DataSet batch64 = new DataSet(batch.getFeatures().castTo(DataType.DOUBLE),
                batch.getLabels().castTo(DataType.DOUBLE));
        double[] truth = new double[10];
        double[] expected = new double[10];
        double[] actual = new double[10];
        for (int step = 0; step < 10; step++) {
            exact.fit(batch64);
            reference.fit(batch);
            tuned.fit(batch);
            truth[step] = exact.score();
            expected[step] = reference.score();
            actual[step] = tuned.score();
        }
        System.out.println("loss, double precision:     " + Arrays.toString(truth));
        System.out.println("loss, built-in convolution: " + Arrays.toString(expected));
        System.out.println("loss, oneDNN helper:        " + Arrays.toString(actual));
        assertTrue(expected[9] < 0.5 * expected[0], "the network learns: " + Arrays.toString(expected));
        for (int step = 0; step < 10; step++) {
            double noise = Math.abs(expected[step] - truth[step]);
            double error = Math.abs(actual[step] - truth[step]);
            // as close to the double-precision run as DL4J's own float convolution, to a factor of float noise
            assertTrue(error <= 10 * noise + 1e-6 * truth[step], "step " + step + ": the helper's loss is " + error
                    + " from double precision's, DL4J's built-in float convolution's " + noise);
            assertEquals(expected[step], actual[step], 1e-3 * expected[step], "step " + step);
        }
        double noise = relative(reference.params(), exact.params());
        double error = relative(tuned.params(), exact.params());
        System.out.println("parameters after ten steps, relative distance from double precision's: built-in " + noise
                + ", oneDNN helper " + error);
        assertTrue(error <= 10 * noise + 1e-7, "parameters: " + error + " against DL4J's float noise " + noise);
        INDArray x = batch(4, 3, 16, 16, 5, 99).getFeatures();
        INDArray exactOut = exact.output(x.castTo(DataType.DOUBLE));
        double outNoise = relative(reference.output(x), exactOut);
        double outError = relative(tuned.output(x), exactOut);
        assertTrue(outError <= 10 * outNoise + 1e-6, "inference after training: " + outError + " from double "
                + "precision's, DL4J's built-in float convolution " + outNoise);
        for (OneDnnConvolutionHelper h : helpers) {
            assertEquals(0, h.fallbackCalls());
            assertEquals(10, h.backwardPasses());
            assertTrue(h.forwardReuses() >= 10, "backprop took the forward output: " + h.forwardReuses());
        }
        OneDnnConvolutionHelper winograd = helpers.get(2);
        assertTrue(winograd.implementations().contains("wino"), winograd.implementations());
        assertEquals(10, winograd.weightReuses(), "Winograd's backward data takes the forward pass's weights layout:"
                + " reordered once per step");
        assertEquals(10 + 1, winograd.weightReorders(), "once per step, and once for the inference call");
    }

    private static double relative(INDArray a, INDArray exact) {
        return a.castTo(DataType.DOUBLE).sub(exact).norm2Number().doubleValue() / exact.norm2Number().doubleValue();
    }

    private static MultiLayerNetwork convNet(long seed) {
        return convNet(seed, DataType.FLOAT);
    }

    /** conv 3x3 (ReLU), conv 3x3 stride 2, batch norm, ReLU layer, conv 3x3 32 to 32 (Winograd), conv 1x1, output. */
    private static MultiLayerNetwork convNet(long seed, DataType dataType) {
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(seed)
                .dataType(dataType).updater(new Nesterovs(0.02, 0.9))
                .weightInit(WeightInit.RELU).list()
                .layer(new ConvolutionLayer.Builder(3, 3).nOut(16).padding(1, 1).activation(Activation.RELU).build())
                .layer(new ConvolutionLayer.Builder(3, 3).nOut(32).stride(2, 2).padding(1, 1).hasBias(false)
                        .activation(Activation.IDENTITY).build())
                .layer(new BatchNormalization.Builder().build())
                .layer(new ActivationLayer.Builder().activation(Activation.RELU)
                        .build())
                .layer(new ConvolutionLayer.Builder(3, 3).nOut(32).convolutionMode(ConvolutionMode.Same)
                        .activation(Activation.RELU).build())
                .layer(new ConvolutionLayer.Builder(1, 1).nOut(8).activation(Activation.IDENTITY).build())
                .layer(new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.AVG).kernelSize(2, 2).stride(2, 2)
                        .build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(5)
                        .activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutional(16, 16, 3)).build());
        net.init();
        return net;
    }

    @Test
    void theSwitchesSelectThePathsTheyName() throws Exception {
        Case c = new Case(2, 16, 8, 8, 16, 3, 3, 1, 1, ConvolutionMode.Truncate, false, Activation.IDENTITY);
        assertEquals(OneDnnConvolutionHelper.class, installed(c).getClass());
        assertTrue(LayerHelpers.convolutionPath().startsWith("oneDNN " + OneDnn.version() + " called directly"),
                LayerHelpers.convolutionPath());
        assertTrue(LayerHelpers.convolutionPath().contains("1 OpenMP runtime, shared with libnd4j"),
                "the preset's oneDNN runs on libnd4j's OpenMP runtime: " + LayerHelpers.convolutionPath());
        LayerHelpersTest.withConvolution("dl4j", () -> {
            assertEquals(MKLDNNConvHelper.class, installed(c).getClass());
            assertEquals("DL4J's (zoo4j.convolution=dl4j)", LayerHelpers.convolutionPath());
        });
        LayerHelpersTest.withConvolution("direct", () -> {
            assertEquals(DirectConvolutionHelper.class, installed(c).getClass());
            assertTrue(LayerHelpers.convolutionPath().endsWith("(zoo4j.convolution=direct)"));
        });
        LayerHelpersTest.withConvolution("OneDNN ", () -> assertEquals(OneDnnConvolutionHelper.class,
                installed(c).getClass()));
        LayerHelpersTest.withConvolution("cudnn", () -> {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> installed(c));
            assertTrue(e.getMessage().contains("zoo4j.convolution=cudnn") && e.getMessage().contains("onednn"),
                    e.getMessage());
            assertThrows(IllegalArgumentException.class, LayerHelpers::convolutionPath);
        });
        String before = System.getProperty(LayerHelpers.SWITCH);
        System.setProperty(LayerHelpers.SWITCH, "false");
        try {
            assertEquals(MKLDNNConvHelper.class, installed(c).getClass());
            assertEquals("DL4J's (zoo4j.layerHelpers=false)", LayerHelpers.convolutionPath());
        } finally {
            if (before == null) {
                System.clearProperty(LayerHelpers.SWITCH);
            } else {
                System.setProperty(LayerHelpers.SWITCH, before);
            }
        }
        // where the dnnl natives do not load, LayerHelpers installs the direct route and says why
        String missing = LayerHelpers.describeConvolutionPath("onednn", null,
                "UnsatisfiedLinkError: no jnidnnl in java.library.path", 0);
        assertEquals("zoo4j's direct route through libnd4j's oneDNN (dnnl natives did not load: UnsatisfiedLinkError: "
                + "no jnidnnl in java.library.path)", missing);
    }

    private static Object installed(Case c) {
        MultiLayerNetwork net = single(c, 3);
        LayerHelpers.install(net);
        return LayerHelpers.helperOf(net.getLayer(0));
    }

    /**
     * Layers and shapes the oneDNN helper does not take go to the direct route, bias-free ones included (DL4J hands
     * helpers of its own oneDNN kind no bias-gradient array there, and the fallback must get none either).
     */
    @Test
    void whatItDoesNotTakeGoesToTheDirectRouteAndStillMatches() throws Exception {
        MultiLayerNetwork dilated = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(4)
                .dataType(DataType.FLOAT).updater(new Adam(1e-3)).list()
                .layer(new ConvolutionLayer.Builder(3, 3).nOut(16).dilation(2, 2).hasBias(false)
                        .activation(Activation.RELU).build())
                .layer(new ConvolutionLayer.Builder(3, 3).nOut(8).hasBias(false).activation(Activation.IDENTITY)
                        .build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nOut(3).activation(Activation.IDENTITY)
                        .build())
                .setInputType(InputType.convolutional(12, 12, 4)).build());
        dilated.init();
        MultiLayerNetwork nhwc = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(4)
                .dataType(DataType.FLOAT).updater(new Adam(1e-3)).list()
                .layer(new ConvolutionLayer.Builder(3, 3).nOut(8).hasBias(false).dataFormat(CNN2DFormat.NHWC)
                        .activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nOut(3).activation(Activation.IDENTITY)
                        .build())
                .setInputType(InputType.convolutional(10, 10, 4, CNN2DFormat.NHWC)).build());
        nhwc.init();
        for (MultiLayerNetwork reference : List.of(dilated, nhwc)) {
            MultiLayerNetwork tuned = reference.clone();
            LayerHelpers.install(tuned);
            boolean isNhwc = reference == nhwc;
            Nd4j.getRandom().setSeed(8);
            INDArray x = isNhwc ? Nd4j.randn(DataType.FLOAT, 4, 10, 10, 4) : Nd4j.randn(DataType.FLOAT, 4, 4, 12, 12);
            DataSet batch = new DataSet(x, Nd4j.randn(DataType.FLOAT, 4, 3));
            for (int step = 0; step < 3; step++) {
                reference.fit(batch);
                tuned.fit(batch);
                assertEquals(reference.score(), tuned.score(), 1e-5 * reference.score(), "step " + step);
            }
            assertClose(reference.params(), tuned.params(), isNhwc ? "NHWC" : "dilated");
            OneDnnConvolutionHelper first = (OneDnnConvolutionHelper) LayerHelpers.helperOf(tuned.getLayer(0));
            // libnd4j's oneDNN refuses dilation: after the first failure DL4J's layer takes its built-in path
            assertTrue(first.fallbackCalls() >= (isNhwc ? 6 : 1), "went to the direct route: " + first.fallbackCalls());
            assertEquals(0, first.forwardPasses());
            assertEquals(0, first.backwardPasses());
            if (!isNhwc) {
                OneDnnConvolutionHelper second = (OneDnnConvolutionHelper) LayerHelpers.helperOf(tuned.getLayer(1));
                assertEquals(0, second.fallbackCalls(), "the plain layer after it is oneDNN's");
                assertEquals(3, second.backwardPasses());
            }
        }
    }

    /** Transfer learning: DL4J wraps frozen layers; their convolutions get the helper and run forward only. */
    @Test
    void frozenConvolutionsTakeTheHelperForTheirForwardPass() throws Exception {
        MultiLayerNetwork base = convNet(23);
        // each through TransferLearning: MultiLayerNetwork.clone() drops the frozen wrappers in DL4J M2.1
        MultiLayerNetwork reference = frozenBelow(base.clone(), 1);
        MultiLayerNetwork tuned = frozenBelow(base.clone(), 1);
        assertInstanceOf(FrozenLayer.class, reference.getLayer(0));
        assertInstanceOf(FrozenLayer.class, tuned.getLayer(1));
        for (Layer layer : reference.getLayers()) {
            Layer inner = layer instanceof FrozenLayer f ? f.getInsideLayer() : layer;
            if (inner instanceof org.deeplearning4j.nn.layers.convolution.ConvolutionLayer) {
                LayerHelpers.removeConvolutionHelper(inner);
            }
        }
        LayerHelpers.install(tuned);
        OneDnnConvolutionHelper frozen = assertInstanceOf(OneDnnConvolutionHelper.class,
                LayerHelpers.helperOf(tuned.getLayer(0)));
        INDArray frozenWeights = tuned.getLayer(0).getParam("W").dup();
        DataSet batch = batch(8, 3, 16, 16, 5, 5);
        for (int step = 0; step < 3; step++) {
            reference.fit(batch);
            tuned.fit(batch);
            assertEquals(reference.score(), tuned.score(), 1e-5 * reference.score(), "step " + step);
        }
        assertClose(reference.params(), tuned.params(), "parameters");
        assertEquals(frozenWeights, tuned.getLayer(0).getParam("W"), "frozen weights stay as they were");
        assertEquals(3, frozen.forwardPasses());
        assertEquals(0, frozen.backwardPasses(), "a frozen layer has no backward pass");
        assertEquals(0, frozen.fallbackCalls());
    }

    private static MultiLayerNetwork frozenBelow(MultiLayerNetwork net, int layer) {
        return new TransferLearning.Builder(net)
                .fineTuneConfiguration(new FineTuneConfiguration.Builder()
                        .updater(new Sgd(0.05)).build())
                .setFeatureExtractor(layer).build();
    }

    /**
     * Backprop to the input with no weight update, as zoo4j's activation maximizer walks a graph: an inference-mode
     * forward pass without workspaces, then each vertex's backward pass in reverse order.
     */
    @Test
    void theGradientReachesTheInputAsInActivationMaximization() throws Exception {
        ComputationGraph reference = new ComputationGraph(new NeuralNetConfiguration.Builder().seed(31)
                .dataType(DataType.FLOAT).weightInit(WeightInit.RELU).graphBuilder().addInputs("in")
                .addLayer("conv1", new ConvolutionLayer.Builder(3, 3).nOut(32).padding(1, 1)
                        .activation(Activation.RELU).build(), "in")
                .addLayer("conv2", new ConvolutionLayer.Builder(3, 3).nOut(32).padding(1, 1).hasBias(false)
                        .activation(Activation.IDENTITY).build(), "conv1")
                .addLayer("conv3", new ConvolutionLayer.Builder(3, 3).nOut(16).stride(2, 2)
                        .activation(Activation.TANH).build(), "conv2")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nOut(2)
                        .activation(Activation.IDENTITY).build(), "conv3")
                .setOutputs("out").setInputTypes(InputType.convolutional(12, 12, 3)).build());
        reference.init();
        ComputationGraph tuned = reference.clone();
        reference.initGradientsView();
        tuned.initGradientsView();
        for (String name : List.of("conv1", "conv2", "conv3")) {
            LayerHelpers.removeConvolutionHelper(reference.getLayer(name));
        }
        LayerHelpers.install(tuned);
        assertEquals(3, LayerHelpers.convolutionLayersWithZoo4jHelper(tuned));
        INDArray params = tuned.params().dup();
        Nd4j.getRandom().setSeed(12);
        INDArray x = Nd4j.randn(DataType.FLOAT, 2, 3, 12, 12);
        INDArray expected = inputGradient(reference, x, "conv3");
        INDArray actual = inputGradient(tuned, x, "conv3");
        assertClose(expected, actual, "gradient at the input");
        assertEquals(params, tuned.params(), "no weight changed");
        for (String name : List.of("conv1", "conv2", "conv3")) {
            OneDnnConvolutionHelper h = (OneDnnConvolutionHelper) LayerHelpers.helperOf(tuned.getLayer(name));
            assertEquals(1, h.backwardPasses(), name);
            assertEquals(0, h.fallbackCalls(), name);
        }
    }

    /** d(mean of channel 0 of {@code layer})/d(input), walking the graph's vertices backwards. */
    private static INDArray inputGradient(ComputationGraph graph, INDArray x, String layer) {
        Map<String, INDArray> acts = graph.feedForward(new INDArray[] {x}, false, false);
        INDArray a = acts.get(layer);
        INDArray error = Nd4j.zeros(a.dataType(), a.shape());
        error.get(NDArrayIndex.all(), NDArrayIndex.point(0), NDArrayIndex.all(), NDArrayIndex.all())
                .assign(1.0 / (a.length() / a.size(1)));
        GraphVertex[] vertices = graph.getVertices();
        int[] order = graph.topologicalSortOrder();
        Map<Integer, INDArray> errors = new HashMap<>();
        errors.put(graph.getVertex(layer).getVertexIndex(), error);
        for (int i = order.length - 1; i >= 0; i--) {
            GraphVertex v = vertices[order[i]];
            INDArray e = errors.remove(v.getVertexIndex());
            if (e == null) {
                continue;
            }
            if (v.isInputVertex()) {
                return e;
            }
            v.setEpsilon(e);
            INDArray[] toInputs = v.doBackward(false, LayerWorkspaceMgr.noWorkspaces()).getSecond();
            VertexIndices[] inputs = v.getInputVertices();
            for (int k = 0; k < inputs.length; k++) {
                errors.merge(inputs[k].getVertexIndex(), toInputs[k].dup(), INDArray::add);
            }
        }
        throw new IllegalStateException("no gradient reached the input");
    }

    private static List<OneDnnConvolutionHelper> oneDnnHelpers(Layer[] layers) {
        List<OneDnnConvolutionHelper> out = new ArrayList<>();
        for (Layer layer : layers) {
            if (LayerHelpers.helperOf(layer) instanceof OneDnnConvolutionHelper helper) {
                out.add(helper);
            }
        }
        return out;
    }

    private static DataSet batch(int n, int channels, int height, int width, int classes, long seed) {
        return LayerHelpersTest.batch(n, channels, height, width, classes, seed);
    }

    /** Largest absolute differences of the four results, each against the largest magnitude of DL4J's. */
    record Compared(double out, double dx, double dw, double db) {
        @Override
        public String toString() {
            return String.format("out %.2e, dx %.2e, dW %.2e, db %.2e (relative to the largest entry)", out, dx, dw,
                    db);
        }
    }

    /** Float tolerance, relative to the largest magnitude of the reference (sums of up to a few thousand terms). */
    private static final double TOLERANCE = 1e-5;

    private static Compared compare(Case c, boolean views) throws Exception {
        MultiLayerNetwork reference = single(c, 7);
        MultiLayerNetwork tuned = reference.clone();
        reference.initGradientsView();
        tuned.initGradientsView();
        Layer ref = reference.getLayer(0);
        LayerHelpers.removeConvolutionHelper(ref);
        LayerHelpers.install(tuned);
        assertEquals(1, LayerHelpers.convolutionLayersWithZoo4jHelper(tuned), c.toString());
        Layer layer = tuned.getLayer(0);
        OneDnnConvolutionHelper helper = assertInstanceOf(OneDnnConvolutionHelper.class,
                LayerHelpers.helperOf(layer), c.toString());

        Nd4j.getRandom().setSeed(c.hashCode());
        INDArray x = Nd4j.randn(DataType.FLOAT, c.n, c.c, c.h, c.w);
        if (views) {
            INDArray big = Nd4j.randn(DataType.FLOAT, c.n + 2, c.c, c.h, c.w);
            big.get(NDArrayIndex.interval(1, c.n + 1)).assign(x);
            x = big.get(NDArrayIndex.interval(1, c.n + 1)); // an offset view
            assertTrue(x.offset() > 0);
        }
        Result expected = run(ref, x, c, null);
        Result actual = run(layer, x, c, null);
        if (views) {
            INDArray permuted = Nd4j.randn(DataType.FLOAT, c.c, c.n, c.h, c.w).permute(1, 0, 2, 3).assign(x);
            Result fromPermuted = run(layer, permuted, c, null);
            assertClose(expected.out, fromPermuted.out, c + " permuted input: output");
            assertClose(expected.dx, fromPermuted.dx, c + " permuted input: dx");
        }
        Compared r = new Compared(diff(expected.out, actual.out), diff(expected.dx, actual.dx),
                diff(expected.dw, actual.dw), expected.db == null ? 0 : diff(expected.db, actual.db));
        assertClose(expected.out, actual.out, c + ": output");
        assertClose(expected.dx, actual.dx, c + ": input gradient");
        assertClose(expected.dw, actual.dw, c + ": weight gradient");
        assertEquals(c.bias, actual.db != null, c + ": a bias gradient exactly when the layer has a bias");
        if (c.bias) {
            assertClose(expected.db, actual.db, c + ": bias gradient");
        }
        assertEquals(0, helper.fallbackCalls(), c + ": oneDNN took every call");
        boolean winograd = c.kh == 3 && c.kw == 3 && c.s == 1 && c.c >= 32 && c.o >= 32
                && actual.out.size(2) >= 4 && actual.out.size(3) >= 4;
        assertEquals(winograd, helper.implementations().contains("wino"), c + ": " + helper.implementations());
        assertEquals(views ? 2 : 1, helper.backwardPasses(), c.toString());
        // no workspaces here, so backprop cannot prove the forward output current: computed again
        assertEquals(0, helper.forwardReuses(), c.toString());
        assertTrue(helper.forwardPasses() >= (views ? 4 : 2), c + ": forward, and again in backprop");
        return r;
    }

    record Result(INDArray out, INDArray dx, INDArray dw, INDArray db) {
    }

    /** A training forward pass and a backward pass of {@code layer} alone, with a fixed random output error. */
    private static Result run(Layer layer, INDArray x, Case c, LayerWorkspaceMgr mgr) {
        LayerWorkspaceMgr workspaces = mgr == null ? LayerWorkspaceMgr.noWorkspaces() : mgr;
        layer.setInput(x, workspaces);
        INDArray out = layer.activate(true, workspaces).dup();
        Nd4j.getRandom().setSeed(99);
        INDArray eps = Nd4j.randn(DataType.FLOAT, out.shape());
        Pair<Gradient, INDArray> g = layer.backpropGradient(eps, workspaces);
        INDArray db = g.getFirst().getGradientFor("b");
        return new Result(out, g.getSecond().dup(), g.getFirst().getGradientFor("W").dup(),
                db == null ? null : db.dup());
    }

    private static double diff(INDArray expected, INDArray actual) {
        assertEquals(Arrays.toString(expected.shape()), Arrays.toString(actual.shape()));
        double scale = Math.max(expected.amaxNumber().doubleValue(), 1e-30);
        return expected.castTo(DataType.DOUBLE).sub(actual.castTo(DataType.DOUBLE)).amaxNumber().doubleValue()
                / scale;
    }

    private static void assertClose(INDArray expected, INDArray actual, String what) {
        double d = diff(expected, actual);
        assertTrue(d <= TOLERANCE, what + " differs by " + d + " of the largest entry "
                + expected.amaxNumber());
    }

    /** A network of one convolution (and an output layer to make it whole), parameters random and non-zero. */
    static MultiLayerNetwork single(Case c, long seed) {
        var conv = new ConvolutionLayer.Builder(c.kh, c.kw).nOut(c.o).stride(c.s, c.s).convolutionMode(c.mode)
                .hasBias(c.bias).activation(c.act);
        if (c.mode != ConvolutionMode.Same) {
            conv.padding(c.p, c.p);
        }
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(seed)
                .dataType(DataType.FLOAT).weightInit(WeightInit.XAVIER).list()
                .layer(conv.build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nOut(2)
                        .activation(Activation.IDENTITY).build())
                .setInputType(InputType.convolutional(c.h, c.w, c.c)).build());
        net.init();
        Nd4j.getRandom().setSeed(seed);
        net.params().assign(Nd4j.randn(DataType.FLOAT, net.params().shape()).muli(0.3));
        return net;
    }
}
