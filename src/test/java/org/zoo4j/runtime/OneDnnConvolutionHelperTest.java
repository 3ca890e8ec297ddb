package org.zoo4j.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
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
            new Case(2, 7, 9, 12, 5, 3, 5, 1, 1, ConvolutionMode.Truncate, true, Activation.IDENTITY));

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
        assertEquals(1, LayerHelpers.install(tuned), c.toString());
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
        assertEquals(java.util.Arrays.toString(expected.shape()), java.util.Arrays.toString(actual.shape()));
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
