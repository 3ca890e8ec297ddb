package org.zoo4j.visual;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.zoo4j.runtime.Backend;
import org.zoo4j.runtime.LayerHelpers;

class VisualTest {
    static {
        Backend.init();
    }

    /** A grey image, dark on the left half and bright on the right: one vertical edge. */
    private static INDArray verticalEdge(int h, int w) {
        INDArray img = Nd4j.zeros(DataType.FLOAT, h, w);
        for (int y = 0; y < h; y++) {
            for (int x = w / 2; x < w; x++) {
                img.putScalar(y, x, 255);
            }
        }
        return img;
    }

    @Test
    void outputSizeFollowsTheFormula() {
        assertEquals(28, ConvolutionDemo.outputSize(28, 3, 1, 1));
        assertEquals(14, ConvolutionDemo.outputSize(28, 3, 2, 1));
        assertEquals(24, ConvolutionDemo.outputSize(28, 5, 1, 0));
        assertEquals(55, ConvolutionDemo.outputSize(224, 11, 4, 2), "AlexNet's first layer");
        assertEquals("(224 - 11 + 2*2)/4 + 1 = 55", ConvolutionDemo.formula(224, 11, 4, 2));
        assertThrows(IllegalArgumentException.class, () -> ConvolutionDemo.outputSize(2, 5, 1, 1));
        for (int stride : new int[] {1, 2, 3}) {
            for (int padding : new int[] {0, 1, 2}) {
                ConvolutionDemo.Result r = ConvolutionDemo.apply(verticalEdge(20, 17), Kernel.BLUR, stride, padding);
                assertEquals(ConvolutionDemo.outputSize(20, 3, stride, padding), r.output().size(0), "rows");
                assertEquals(ConvolutionDemo.outputSize(17, 3, stride, padding), r.output().size(1), "columns");
            }
        }
    }

    @Test
    void sobelXAnswersAVerticalEdgeAndNothingElse() {
        // Columns 0-7 are 0, 8-15 are 255; output column j (no padding) sees input columns j..j+2.
        ConvolutionDemo.Result r = ConvolutionDemo.apply(verticalEdge(10, 16), Kernel.SOBEL_X, 1, 0);
        assertEquals(8, r.output().size(0));
        assertEquals(14, r.output().size(1));
        for (int j = 0; j < 14; j++) {
            float expected = j == 6 || j == 7 ? 4 * 255 : 0; // windows that straddle the edge
            for (int i = 0; i < 8; i++) {
                assertEquals(expected, r.output().getFloat(i, j), 1e-3, "column " + j);
            }
        }
        ConvolutionDemo.Result y = ConvolutionDemo.apply(verticalEdge(10, 16), Kernel.SOBEL_Y, 1, 0);
        assertEquals(0, y.output().amaxNumber().doubleValue(), 1e-3, "Sobel-y does not see a vertical edge");
        ConvolutionDemo.Result blur = ConvolutionDemo.apply(Nd4j.valueArrayOf(new long[] {6, 6}, 100f), Kernel.BLUR, 1, 0);
        assertEquals(100, blur.output().minNumber().doubleValue(), 1e-3, "blur keeps a flat image");
        assertEquals(100, blur.output().maxNumber().doubleValue(), 1e-3);
    }

    @Test
    void kernelsByCommandLineName() {
        assertEquals(Kernel.SOBEL_X, Kernel.of("sobel-x"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Kernel.of("emboss"));
        assertTrue(e.getMessage().contains("edge, sharpen, blur, sobel-x, sobel-y"), e.getMessage());
    }

    @Test
    void filtersAndFeatureMapsOfLeNetAreNotBlankAndSizedByTheLayer() {
        VisualModel lenet = VisualModel.fresh("lenet5", Map.of());
        BufferedImage conv1 = Filters.picture(lenet, "conv1", 64, 16);
        // 6 tiles of 5x5 at zoom 8 in a 3-column grid, 2-pixel margins.
        assertEquals(3 * (40 + 2) + 2, conv1.getWidth());
        assertEquals(2 * (40 + 2) + 2, conv1.getHeight());
        assertTrue(Mosaic.distinctColours(conv1) > 20, "kernels show structure");
        BufferedImage conv2 = Filters.picture(lenet, "conv2", 64, 16);
        assertEquals(6 * 42 + 2, conv2.getWidth(), "a column per input channel");
        assertEquals(16 * 42 + 2, conv2.getHeight(), "a row per filter");

        INDArray input = Nd4j.rand(DataType.FLOAT, 1, 1, 28, 28);
        INDArray maps = FeatureMaps.of(lenet, input, "conv2");
        assertEquals(3, maps.rank());
        assertEquals(16, maps.size(0));
        assertEquals(10, maps.size(1));
        BufferedImage picture = FeatureMaps.picture(maps);
        assertTrue(Mosaic.distinctColours(picture) > 20, "feature maps are not blank");
        assertEquals(1, FeatureMaps.of(lenet, input, "fc1").rank(), "a dense layer gives a vector");
        assertTrue(Mosaic.distinctColours(FeatureMaps.picture(FeatureMaps.of(lenet, input, "fc1"))) > 10);
    }

    @Test
    void unknownAndUnsuitableLayersAreClearErrors() {
        VisualModel lenet = VisualModel.fresh("lenet5", Map.of());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> FeatureMaps.of(lenet, Nd4j.zeros(DataType.FLOAT, 1, 1, 28, 28), "conv9"));
        assertTrue(e.getMessage().contains("no layer named 'conv9'"), e.getMessage());
        assertTrue(e.getMessage().contains("input, conv1, pool1, conv2, pool2, fc1, fc2, fc3"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Filters.picture(lenet, "pool1", 64, 16));
        assertTrue(e.getMessage().contains("are conv1, conv2"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new ActivationMaximizer(lenet, "fc3"));
        assertTrue(e.getMessage().contains("output layer"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> new ActivationMaximizer(lenet, "conv1").maximize(6, ActivationMaximizer.Settings.defaults()));
        assertTrue(e.getMessage().contains("filters 0 to 5"), e.getMessage());
    }

    @Test
    void gradientAscentRaisesTheFiltersActivation() {
        VisualModel lenet = VisualModel.fresh("lenet5", Map.of());
        ActivationMaximizer max = new ActivationMaximizer(lenet, "conv2");
        int climbed = 0;
        for (int filter = 0; filter < 6; filter++) {
            ActivationMaximizer.Result r;
            try {
                r = max.maximize(filter, new ActivationMaximizer.Settings(30, 0.05, 0.002, 8, 7));
            } catch (IllegalArgumentException silent) {
                // A random ReLU filter can be dead for every noise start; that is reported, not hidden.
                assertTrue(silent.getMessage().contains("does not respond to noise"), silent.getMessage());
                continue;
            }
            climbed++;
            // Random weights and inputs limited to real pixel values cap what can be reached; every filter's mean
            // activation still at least doubles (the weakest measured: 2.3x; silent ones start near 0).
            assertTrue(r.end() > 2 * r.start() && r.end() > 0.005, "filter " + filter + " from " + r.start() + " to "
                    + r.end());
            assertEquals(r.end(), max.objective(r.input(), filter), 1e-5, "the reported activation is the network's");
            assertTrue(Mosaic.distinctColours(Mosaic.grid(List.of(r.tile()), 4)) > 20, "not blank");
        }
        assertTrue(climbed >= 4, "most filters respond to noise; " + climbed + " of 6 did");
    }

    @Test
    void cutNetworkWithBatchNormComputesWhatTheFullNetworkComputes() {
        // resnet20's batch norms are replaced by their inference-time affine maps in the cut network: same numbers.
        VisualModel resnet = VisualModel.fresh("resnet20", Map.of("input", "1,16,16"));
        // Non-trivial running statistics, so that the affine map is not the identity.
        for (String name : resnet.layerNames()) {
            if (name.endsWith(".bn1") || name.equals("bn1")) {
                Map<String, INDArray> p = resnet.net().getLayer(name).paramTable();
                p.forEach((k, v) -> v.assign(Nd4j.rand(v.dataType(), v.shape()).addi(0.5)));
            }
        }
        INDArray x = Nd4j.rand(DataType.FLOAT, 1, 1, 16, 16);
        // (At the last vertex of a block: DL4J's feedForward map holds a vertex's output after a following in-place
        // activation has changed it, so an add or batch norm followed by a ReLU cannot be compared on its own.)
        String layer = "layer2.0.relu";
        INDArray full = resnet.net().feedForward(x, false).get(layer);
        ComputationGraph cutNet = ActivationMaximizer.cutAfter(resnet.net(), layer);
        long convolutions = Arrays.stream(cutNet.getLayers()).filter(l -> l.getClass()
                == org.deeplearning4j.nn.layers.convolution.ConvolutionLayer.class).count();
        assertTrue(convolutions >= 8, "the stem's, layer1's and layer2.0's convolutions: " + convolutions);
        assertEquals(convolutions, LayerHelpers.convolutionLayersWithZoo4jHelper(cutNet), "zoo4j's convolution "
                + "helper on each: the gradient checked below goes through it");
        INDArray cut = cutNet.outputSingle(false, x);
        assertTrue(full.equalsWithEps(cut, 1e-4), "cut network differs: max error "
                + full.sub(cut).amaxNumber());
        // The input gradient agrees with finite differences along a random direction.
        ActivationMaximizer max = new ActivationMaximizer(resnet, layer);
        for (int filter : new int[] {0, 5}) {
            INDArray d = Nd4j.rand(DataType.FLOAT, 1, 1, 16, 16).subi(0.5);
            double eps = 1e-2;
            double numeric = (max.objective(x.add(d.mul(eps)), filter) - max.objective(x.sub(d.mul(eps)), filter)) / (2 * eps);
            double analytic = max.gradient(x, filter).input().mul(d).sumNumber().doubleValue();
            assertEquals(numeric, analytic, 1e-2 * Math.max(1e-2, Math.abs(numeric)), "filter " + filter);
        }
    }
}
