package org.zoo4j.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.WorkspaceMode;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.zoo4j.Zoo;

/** The swapped-in convolution and batch-norm helpers compute DL4J's gradients, and are really the ones that run. */
class LayerHelpersTest {

    @BeforeAll
    static void dl4jHelpersOn() {
        Backend.init(); // what every zoo4j entry point does first; without it DL4J attaches no oneDNN helper
    }

    /** Runs {@code body} with {@value LayerHelpers#CONVOLUTION} set to {@code path}, then restores it. */
    static void withConvolution(String path, ThrowingRunnable body) throws Exception {
        withProperty(LayerHelpers.CONVOLUTION, path, body);
    }

    /** Runs {@code body} with {@value LayerHelpers#BATCH_NORM} set to {@code path}, then restores it. */
    static void withBatchNorm(String path, ThrowingRunnable body) throws Exception {
        withProperty(LayerHelpers.BATCH_NORM, path, body);
    }

    /** Runs {@code body} with system property {@code key} set to {@code value} (cleared for null), then restores it. */
    static void withProperty(String key, String value, ThrowingRunnable body) throws Exception {
        String before = System.getProperty(key);
        if (value == null) {
            System.clearProperty(key);
        } else {
            System.setProperty(key, value);
        }
        try {
            body.run();
        } finally {
            if (before == null) {
                System.clearProperty(key);
            } else {
                System.setProperty(key, before);
            }
        }
    }

    /** zoo4j's two batch-norm paths: oneDNN called directly and the passes of libnd4j's ops. */
    private static final String[] BATCH_NORM_PATHS = {"onednn", "nd4j"};

    /** Training forward and backward passes a zoo4j batch-norm helper took itself: {forward, backward}. */
    private static long[] ownPasses(Object helper) {
        if (helper instanceof OneDnnBatchNormHelper oneDnn) {
            return new long[] {oneDnn.trainingPasses(), oneDnn.backwardPasses()};
        }
        long steps = ((ChannelPassBatchNormHelper) helper).channelPassSteps();
        return new long[] {steps, steps};
    }

    /** The class of batch-norm helper a path installs. */
    private static Class<?> batchNormHelperClass(String path) {
        return path.equals("onednn") && OneDnn.available() ? OneDnnBatchNormHelper.class
                : ChannelPassBatchNormHelper.class;
    }

    interface ThrowingRunnable {
        void run() throws Exception;
    }

    @Test
    void resnetGradientsMatchDl4jsHelper() throws Exception {
        withConvolution("direct", LayerHelpersTest::resnetGradientsMatchDl4jsHelperOnTheDirectRoute);
    }

    private static void resnetGradientsMatchDl4jsHelperOnTheDirectRoute() {
        ComputationGraph reference = Zoo.create("resnet20", Map.of("input", "1,16,16", "numClasses", 10, "shortcut", "B"));
        ComputationGraph tuned = reference.clone();
        int installed = LayerHelpers.install(tuned);
        assertEquals(42 + 19 + 1, installed, "19 3x3 convolutions, 2 projection shortcuts and a batch norm after each; "
                + "ReLU layers after the stem's batch norm, the first batch norm of each block and each block's sum; the "
                + "output layer");
        DataSet batch = batch(8, 1, 16, 16, 10, 1);

        assertSameGradients(reference, tuned, batch);
        List<DirectConvolutionHelper> helpers = helpers(tuned.getLayers());
        long direct = helpers.stream().mapToLong(DirectConvolutionHelper::directBackwardPasses).sum();
        long reused = helpers.stream().mapToLong(DirectConvolutionHelper::forwardReuses).sum();
        // conv1 has 1 input channel; layer2.0 and layer3.0 open with a stride-2 3x3 and a 1x1 stride-2 shortcut.
        // Of the 16 stride-1 3x3 convolutions left, layer1's have 16 input channels and layer3's (64) a 4x4 map, where
        // the direct pass is the faster; layer2's (32 channels, 8x8) keep oneDNN's Winograd.
        assertEquals(DirectConvolutionHelper.WINOGRAD_CPU ? 6 + 5 : 0, direct,
                "the stride-1 3x3 convolutions where oneDNN's Winograd would be the slower");
        assertEquals(21, reused, "backprop took the forward output of every (identity-activation) convolution");
        long reluPasses = Arrays.stream(tuned.getLayers()).filter(l -> l instanceof ReluActivationLayer)
                .mapToLong(l -> ((ReluActivationLayer) l).trainingPasses()).sum();
        assertEquals(19, reluPasses, "every ReLU layer's training forward pass was zoo4j's");
    }

    @Test
    void reluLayersAfterResidualSumsTakeTheirReluFromThereInTrainingWithDl4jsGradients() throws Exception {
        ComputationGraph[] nets = smallResnet20WithAndWithout(LayerHelpers.FUSE_RELU);
        ComputationGraph reference = nets[0];
        ComputationGraph fused = nets[1];
        ComputationGraph apart = nets[2];
        DataSet batch = batch(8, 1, 16, 16, 10, 3);

        assertSameGradients(reference, fused, batch); // DL4J's own helpers and passes throughout
        assertSameGradients(apart, fused, batch);
        if (!OneDnn.available()) {
            return; // no fused sum: nothing is linked (checked below where there is)
        }
        List<ReluActivationLayer> relus = Arrays.stream(fused.getLayers())
                .filter(l -> l instanceof ReluActivationLayer).map(l -> (ReluActivationLayer) l).toList();
        assertEquals(19, relus.size());
        // two gradients computed above
        assertEquals(2 * 9, relus.stream().mapToLong(ReluActivationLayer::passThroughPasses).sum(),
                "each block's sum applied the ReLU after it");
        assertEquals(2 * 19, relus.stream().mapToLong(ReluActivationLayer::trainingPasses).sum());
        assertEquals(2 * 19, relus.stream().mapToLong(r -> r.backward().onednnCalls()).sum(),
                "each ReLU layer's gradient in one oneDNN pass");
        long sums = Arrays.stream(fused.getVertices()).filter(v -> v instanceof ResidualAddVertex)
                .mapToLong(v -> ((ResidualAddVertex) v).fusedPasses()).sum();
        assertEquals(2 * 9, sums, "each block's sum, in one pass with its ReLU");
        assertSame(fused.getVertex("layer1.0.add"), fused.getVertices()[fused.getVertex("layer1.0.add")
                .getVertexIndex()], "the graph finds the sum by name and by index alike");
        assertEquals(0, Arrays.stream(apart.getLayers()).filter(l -> l instanceof ReluActivationLayer)
                .mapToLong(l -> ((ReluActivationLayer) l).passThroughPasses()).sum(), LayerHelpers.FUSE_RELU + "=false");
        assertEquals(0, Arrays.stream(apart.getVertices()).filter(v -> v instanceof ResidualAddVertex).count());

        // Inference takes DL4J's vertex and the ReLU layers' own pass; the output is the reference's.
        INDArray expected = reference.outputSingle(false, batch.getFeatures());
        INDArray actual = fused.outputSingle(false, batch.getFeatures());
        assertTrue(expected.sub(actual).amaxNumber().doubleValue() <= 1e-5 * expected.amaxNumber().doubleValue());
        assertEquals(2 * 9, relus.stream().mapToLong(ReluActivationLayer::passThroughPasses).sum(), "none at inference");
        assertEquals(reference.getConfiguration().toJson(), fused.getConfiguration().toJson(),
                "the configuration, and so a saved network, is DL4J's own");

        // A step of training after inference, with the workspaces DL4J's fit uses: the fused passes again
        fused.fit(batch);
        assertEquals(3 * 9, relus.stream().mapToLong(ReluActivationLayer::passThroughPasses).sum());
        assertTrue(Double.isFinite(fused.score()));
    }

    /**
     * ResNet-20 on 16x16 inputs three times with the same weights: as DL4J builds it, with zoo4j's helpers, and with
     * zoo4j's helpers installed while the flag {@code property} is false.
     */
    private static ComputationGraph[] smallResnet20WithAndWithout(String property) throws Exception {
        ComputationGraph reference = Zoo.create("resnet20", Map.of("input", "1,16,16", "numClasses", 10, "shortcut", "B"));
        ComputationGraph with = reference.clone();
        ComputationGraph without = reference.clone();
        LayerHelpers.install(with);
        withProperty(property, "false", () -> LayerHelpers.install(without));
        return new ComputationGraph[] {reference, with, without};
    }

    @Test
    void convolutionsHandTheirResultsToTheirBatchNormsInTheBlockedLayoutWithTheSameGradients() throws Exception {
        ComputationGraph[] nets = smallResnet20WithAndWithout(LayerHelpers.BLOCKED_HAND_OFF);
        ComputationGraph reference = nets[0];
        ComputationGraph linked = nets[1];
        ComputationGraph apart = nets[2];
        DataSet batch = batch(8, 1, 16, 16, 10, 5);

        assertSameGradients(reference, linked, batch); // DL4J's own helpers and passes throughout
        assertIdentical(gradient(apart, batch), gradient(linked, batch), "the same computation, bit for bit");
        if (!OneDnn.available()) {
            return;
        }
        List<OneDnnConvolutionHelper> convs = Arrays.stream(linked.getLayers())
                .filter(l -> LayerHelpers.helperOf(l) instanceof OneDnnConvolutionHelper)
                .map(l -> (OneDnnConvolutionHelper) LayerHelpers.helperOf(l)).toList();
        List<OneDnnBatchNormHelper> bns = Arrays.stream(linked.getLayers())
                .filter(l -> LayerHelpers.helperOf(l) instanceof OneDnnBatchNormHelper)
                .map(l -> (OneDnnBatchNormHelper) LayerHelpers.helperOf(l)).toList();
        assertEquals(21, convs.size(), "19 convolutions and 2 projection shortcuts, each followed by a batch norm");
        assertTrue(convs.stream().allMatch(c -> c.link() != null), "every convolution linked to its batch norm");
        assertEquals(convs.stream().map(OneDnnConvolutionHelper::link).toList(),
                bns.stream().map(OneDnnBatchNormHelper::link).toList(), "in the graph's order, pair by pair");
        // Handed on where the batch norm runs right after its convolution (backprop: right before) in DL4J's order;
        // in the two downsampling blocks the shortcut's convolution runs in between.
        int[] order = linked.topologicalSortOrder();
        int adjacent = 0;
        for (int i = 0; i + 1 < order.length; i++) {
            if (linked.getVertices()[order[i]] instanceof org.deeplearning4j.nn.graph.vertex.impl.LayerVertex v
                    && LayerHelpers.helperOf(v.getLayer()) instanceof OneDnnConvolutionHelper c
                    && linked.getVertices()[order[i + 1]] instanceof org.deeplearning4j.nn.graph.vertex.impl.LayerVertex
                    after && LayerHelpers.helperOf(after.getLayer()) instanceof OneDnnBatchNormHelper b
                    && b.link() == c.link()) {
                adjacent++;
            }
        }
        assertEquals(17, adjacent);
        // two gradients computed above (reference's and the bit-for-bit comparison's)
        assertEquals(2 * adjacent, bns.stream().mapToLong(OneDnnBatchNormHelper::handedInputs).sum());
        assertEquals(2 * adjacent, convs.stream().mapToLong(OneDnnConvolutionHelper::handedGradients).sum());
        assertTrue(Arrays.stream(apart.getLayers()).map(LayerHelpers::helperOf)
                .noneMatch(h -> h instanceof OneDnnBatchNormHelper bn && bn.link() != null),
                LayerHelpers.BLOCKED_HAND_OFF + "=false");

        // Training steps through DL4J's fit (its workspaces), then inference: the same parameters and outputs
        for (int i = 0; i < 2; i++) {
            linked.fit(batch);
            apart.fit(batch);
        }
        assertIdentical(apart.params(), linked.params(), "two fitted steps, bit for bit");
        assertIdentical(apart.outputSingle(false, batch.getFeatures()), linked.outputSingle(false,
                batch.getFeatures()), "inference after them");
        assertEquals(4 * adjacent, bns.stream().mapToLong(OneDnnBatchNormHelper::handedInputs).sum());
        assertEquals(4 * adjacent, convs.stream().mapToLong(OneDnnConvolutionHelper::handedGradients).sum());
    }

    @Test
    void inFitLinkedPairsHoldTheBlockedLayoutInPlaceAndEveryOtherPathSeesNchw() throws Exception {
        ComputationGraph reference = Zoo.create("resnet20", Map.of("input", "1,16,16", "numClasses", 10,
                "shortcut", "B"));
        ComputationGraph inPlace = reference.clone();
        ComputationGraph apart = reference.clone();
        LayerHelpers.installForTraining(inPlace);
        withProperty(LayerHelpers.BLOCKED_IN_PLACE, "false", () -> LayerHelpers.installForTraining(apart));
        DataSet batch = batch(8, 1, 16, 16, 10, 7);
        DataSet other = batch(8, 1, 16, 16, 10, 8);
        if (!OneDnn.available()) {
            return;
        }
        List<OneDnn.Link> links = links(inPlace);
        List<String> linkedConvolutions = Arrays.stream(inPlace.getLayers())
                .filter(l -> LayerHelpers.helperOf(l) instanceof OneDnnConvolutionHelper c && c.link() != null)
                .map(l -> l.conf().getLayer().getLayerName()).toList();
        List<OneDnnBatchNormHelper> bns = Arrays.stream(inPlace.getLayers()).map(LayerHelpers::helperOf)
                .filter(h -> h instanceof OneDnnBatchNormHelper).map(h -> (OneDnnBatchNormHelper) h).toList();
        assertEquals(21, links.size());
        assertTrue(links.stream().allMatch(OneDnn.Link::inPlaceAllowed));
        List<OneDnn.Bridge> bridges = bridges(inPlace);
        assertEquals(9, bridges.size(), "each residual block's first batch norm, through its ReLU, to its second "
                + "convolution");
        assertEquals(List.of(), bridges(apart), LayerHelpers.BLOCKED_IN_PLACE + "=false");

        for (int i = 0; i < 3; i++) { // the first step learns that the batch norms train; the others write in place
            inPlace.fit(batch);
            apart.fit(batch);
        }
        assertIdentical(apart.params(), inPlace.params(), "three fitted steps, bit for bit");
        // 16x16 input: 16-channel layers at 16x16, 32 at 8x8, 64 at 4x4: every one in whole blocks
        assertEquals(2 * 21, links.stream().mapToLong(OneDnn.Link::resultsInPlace).sum(), "steps 2 and 3");
        assertEquals(2 * 21, links.stream().mapToLong(OneDnn.Link::gradientsInPlace).sum(),
                "steps 2 and 3 (the first step learns what the convolutions take)");
        assertEquals(2 * 9, bridges.stream().mapToLong(OneDnn.Bridge::outputsInPlace).sum(),
                "steps 2 and 3 (the first learns which layout the convolutions take)");
        assertEquals(2 * 9, bridges.stream().mapToLong(OneDnn.Bridge::gradientsInPlace).sum());
        assertEquals(0, bridges.stream().mapToLong(OneDnn.Bridge::rewrites).sum(), "no other path");

        // Inference right after training: the convolutions still expect a training batch norm and write in place;
        // each batch norm rewrites its input as NCHW first, once, and from then on the convolutions write NCHW.
        assertIdentical(apart.outputSingle(false, other.getFeatures()), inPlace.outputSingle(false,
                other.getFeatures()), "inference after training");
        assertEquals(21, bns.stream().mapToLong(OneDnnBatchNormHelper::restoredInputs).sum());
        assertEquals(3 * 21, links.stream().mapToLong(OneDnn.Link::resultsInPlace).sum(), "that inference's too");
        Map<String, INDArray> expected = apart.feedForward(other.getFeatures(), false);
        Map<String, INDArray> actual = inPlace.feedForward(other.getFeatures(), false);
        assertEquals(expected.keySet(), actual.keySet());
        for (String name : expected.keySet()) {
            assertIdentical(expected.get(name), actual.get(name), "the activations of " + name + " as NCHW");
        }
        assertTrue(expected.keySet().containsAll(linkedConvolutions));
        assertEquals(21, bns.stream().mapToLong(OneDnnBatchNormHelper::restoredInputs).sum(), "nothing more");
        assertEquals(3 * 21, links.stream().mapToLong(OneDnn.Link::resultsInPlace).sum(), "nothing more");

        // Training again after inference: the first step writes NCHW, the next in place; the same parameters.
        for (int i = 0; i < 2; i++) {
            inPlace.fit(other);
            apart.fit(other);
        }
        assertIdentical(apart.params(), inPlace.params(), "two more fitted steps, bit for bit");
        assertEquals(4 * 21, links.stream().mapToLong(OneDnn.Link::resultsInPlace).sum(), "the second step only");
        assertEquals(4 * 21, links.stream().mapToLong(OneDnn.Link::gradientsInPlace).sum(),
                "both: the gradient's way does not depend on inference");
        assertEquals(0, links(apart).stream().mapToLong(OneDnn.Link::resultsInPlace).sum(),
                LayerHelpers.BLOCKED_IN_PLACE + "=false");
        assertEquals(4 * 9, bridges.stream().mapToLong(OneDnn.Bridge::outputsInPlace).sum(),
                "both: inference told the bridges the same layout");
        assertEquals(4 * 9, bridges.stream().mapToLong(OneDnn.Bridge::gradientsInPlace).sum());
        assertEquals(0, bridges.stream().mapToLong(OneDnn.Bridge::rewrites).sum(), "no other path");
    }

    @Test
    void aBridgedConvolutionThatCannotTakeTheBlockedLayoutRewritesItsInputAndGradientAndTrainsTheSame()
            throws Exception {
        var conf = new NeuralNetConfiguration.Builder().seed(5).dataType(DataType.FLOAT).updater(new Adam(1e-2))
                .weightInit(WeightInit.RELU).graphBuilder().addInputs("in")
                .setInputTypes(InputType.convolutional(8, 8, 16))
                .addLayer("c1", new ConvolutionLayer.Builder(3, 3).nOut(16).convolutionMode(ConvolutionMode.Same)
                        .activation(Activation.IDENTITY).build(), "in")
                .addLayer("bn1", new BatchNormalization.Builder().nOut(16).activation(Activation.IDENTITY).build(),
                        "c1")
                .addLayer("relu1", new ActivationLayer.Builder().activation(Activation.RELU).build(), "bn1")
                .addLayer("c2", new ConvolutionLayer.Builder(3, 3).nOut(16).convolutionMode(ConvolutionMode.Same)
                        .activation(Activation.IDENTITY).build(), "relu1")
                .addLayer("bn2", new BatchNormalization.Builder().nOut(16).build(), "c2")
                .addLayer("pool", new org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer.Builder().build(), "bn2")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(3)
                        .activation(Activation.SOFTMAX).build(), "pool")
                .setOutputs("out").build();
        ComputationGraph reference = new ComputationGraph(conf);
        reference.init();
        ComputationGraph bridged = reference.clone();
        ComputationGraph apart = reference.clone();
        LayerHelpers.installForTraining(bridged);
        withProperty(LayerHelpers.BLOCKED_THROUGH_RELU, "false", () -> LayerHelpers.installForTraining(apart));
        assertTrue(OneDnn.available(), "the dnnl natives load on this machine: " + OneDnn.failure());
        OneDnn.Bridge bridge = ((OneDnnConvolutionHelper) LayerHelpers.helperOf(bridged.getLayer("c2"))).bridge();
        assertNotNull(bridge);
        assertNull(((OneDnnConvolutionHelper) LayerHelpers.helperOf(apart.getLayer("c2"))).bridge());
        // c2 on primitives that take NCHW: the blocked layout the batch norm writes in is not theirs
        var field = org.deeplearning4j.nn.layers.convolution.ConvolutionLayer.class.getDeclaredField("helper");
        field.setAccessible(true);
        var nchw = ConvolutionVariant.named("onednn-nchw");
        var bridgedC2 = new OneDnnConvolutionHelper(DataType.FLOAT, true, true, nchw);
        bridgedC2.bridge(bridge);
        field.set(bridged.getLayer("c2"), bridgedC2);
        field.set(apart.getLayer("c2"), new OneDnnConvolutionHelper(DataType.FLOAT, true, true, nchw));
        var bn1 = (OneDnnBatchNormHelper) LayerHelpers.helperOf(bridged.getLayer("bn1"));

        DataSet batch = batch(8, 16, 8, 8, 3, 21);
        bridged.fit(batch);
        apart.fit(batch);
        assertEquals(0, bridge.outputsInPlace(), "the convolution said it takes no blocked layout");
        for (int i = 0; i < 3; i++) {
            bridge.convolutionTakes(bn1.lastOutputLayoutInPlace()); // as if it had said it takes the batch norm's
            bridged.fit(batch);
            apart.fit(batch);
        }
        assertIdentical(apart.params(), bridged.params(), "four fitted steps, bit for bit");
        assertEquals(3, bridge.outputsInPlace(), "the batch norm wrote in place as told");
        assertEquals(0, bridge.gradientsInPlace(), "the convolution's primitive took another layout");
        assertEquals(2 * 3, bridge.rewrites(), "each step: the input rewritten as NCHW, the gradient blocked");
    }

    /** The bridges from a graph's batch norms through a ReLU to a convolution, in the graph's order. */
    private static List<OneDnn.Bridge> bridges(ComputationGraph graph) {
        return Arrays.stream(graph.getLayers()).map(LayerHelpers::helperOf)
                .filter(h -> h instanceof OneDnnConvolutionHelper c && c.bridge() != null)
                .map(h -> ((OneDnnConvolutionHelper) h).bridge()).toList();
    }

    /** The links of a graph's convolutions to their batch norms, in the graph's order. */
    private static List<OneDnn.Link> links(ComputationGraph graph) {
        return Arrays.stream(graph.getLayers()).map(LayerHelpers::helperOf)
                .filter(h -> h instanceof OneDnnConvolutionHelper c && c.link() != null)
                .map(h -> ((OneDnnConvolutionHelper) h).link()).toList();
    }

    @Test
    void onlyAnIdentityConvolutionReadByItsBatchNormAloneHandsItsResultOn() {
        var conf = new NeuralNetConfiguration.Builder().seed(3).dataType(DataType.FLOAT).updater(new Adam(1e-3))
                .weightInit(WeightInit.RELU).graphBuilder().addInputs("in")
                .setInputTypes(InputType.convolutional(8, 8, 16))
                .addLayer("plain", new ConvolutionLayer.Builder(3, 3).nOut(16).convolutionMode(ConvolutionMode.Same)
                        .activation(Activation.IDENTITY).build(), "in")
                .addLayer("plainBn", new BatchNormalization.Builder().nOut(16).build(), "plain")
                .addLayer("relu", new ConvolutionLayer.Builder(3, 3).nOut(16).convolutionMode(ConvolutionMode.Same)
                        .activation(Activation.RELU).build(), "plainBn")
                .addLayer("reluBn", new BatchNormalization.Builder().nOut(16).build(), "relu")
                .addLayer("shared", new ConvolutionLayer.Builder(3, 3).nOut(16).convolutionMode(ConvolutionMode.Same)
                        .activation(Activation.IDENTITY).build(), "reluBn")
                .addLayer("sharedBn", new BatchNormalization.Builder().nOut(16).build(), "shared")
                .addVertex("sum", new org.deeplearning4j.nn.conf.graph.ElementWiseVertex(
                        org.deeplearning4j.nn.conf.graph.ElementWiseVertex.Op.Add), "sharedBn", "shared")
                .addLayer("pool", new org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer.Builder().build(), "sum")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(3)
                        .activation(Activation.SOFTMAX).build(), "pool")
                .setOutputs("out").build();
        ComputationGraph reference = new ComputationGraph(conf);
        reference.init();
        ComputationGraph tuned = reference.clone();
        LayerHelpers.install(tuned);
        DataSet batch = batch(4, 16, 8, 8, 3, 11);
        assertSameGradients(reference, tuned, batch);
        if (!OneDnn.available()) {
            return;
        }
        var plain = (OneDnnConvolutionHelper) LayerHelpers.helperOf(tuned.getLayer("plain"));
        assertNotNull(plain.link());
        assertEquals(plain.link(), ((OneDnnBatchNormHelper) LayerHelpers.helperOf(tuned.getLayer("plainBn"))).link());
        assertEquals(1, plain.handedGradients());
        assertNull(((OneDnnConvolutionHelper) LayerHelpers.helperOf(tuned.getLayer("relu"))).link(),
                "DL4J applies the ReLU in place on the convolution's result, after the blocked copy was made");
        assertNull(((OneDnnConvolutionHelper) LayerHelpers.helperOf(tuned.getLayer("shared"))).link(),
                "the sum reads the result too, and DL4J adds its gradient into the batch norm's");
        assertNull(((OneDnnBatchNormHelper) LayerHelpers.helperOf(tuned.getLayer("sharedBn"))).link());
    }

    @Test
    void aReluAfterASumThatAnotherVertexAlsoReadsKeepsItsOwnPass() {
        var add = org.deeplearning4j.nn.conf.graph.ElementWiseVertex.Op.Add;
        var conf = new NeuralNetConfiguration.Builder().seed(3).dataType(DataType.FLOAT).updater(new Adam(1e-3))
                .graphBuilder().addInputs("in").setInputTypes(InputType.convolutional(8, 8, 4))
                .addLayer("bn", new BatchNormalization.Builder().nOut(4).build(), "in")
                .addLayer("relu", new ActivationLayer.Builder().activation(Activation.RELU).build(), "bn")
                .addVertex("sum1", new org.deeplearning4j.nn.conf.graph.ElementWiseVertex(add), "relu", "in")
                .addLayer("relu1", new ActivationLayer.Builder().activation(Activation.RELU).build(), "sum1")
                .addVertex("sum2", new org.deeplearning4j.nn.conf.graph.ElementWiseVertex(add), "relu1", "sum1")
                .addLayer("relu2", new ActivationLayer.Builder().activation(Activation.RELU).build(), "sum2")
                .addLayer("pool", new org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer.Builder().build(), "relu2")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(3)
                        .activation(Activation.SOFTMAX).build(), "pool")
                .setOutputs("out").build();
        ComputationGraph reference = new ComputationGraph(conf);
        reference.init();
        ComputationGraph tuned = reference.clone();
        LayerHelpers.install(tuned);
        DataSet batch = batch(6, 4, 8, 8, 3, 9);
        assertSameGradients(reference, tuned, batch);
        ReluActivationLayer relu1 = (ReluActivationLayer) tuned.getLayer("relu1");
        ReluActivationLayer relu2 = (ReluActivationLayer) tuned.getLayer("relu2");
        assertNull(((ReluActivationLayer) tuned.getLayer("relu")).fusedBefore(), "after a batch norm: its own pass");
        assertNull(relu1.fusedBefore(), "the first sum is read by the second sum too: it stays a plain sum");
        assertEquals(org.deeplearning4j.nn.graph.vertex.impl.ElementWiseVertex.class,
                tuned.getVertex("sum1").getClass());
        assertEquals(0, relu1.passThroughPasses());
        assertEquals(OneDnn.available() ? 1 : 0, relu2.passThroughPasses(), "the second sum, read by the ReLU alone");
    }

    @Test
    void reluConvolutionsWithBiasInBothPaddingModesMatch() throws Exception {
        withConvolution("direct", LayerHelpersTest::reluConvolutionsWithBiasInBothPaddingModesMatchOnTheDirectRoute);
    }

    private static void reluConvolutionsWithBiasInBothPaddingModesMatchOnTheDirectRoute() {
        long direct = DirectConvolutionHelper.WINOGRAD_CPU ? 1 : 0;
        for (ConvolutionMode mode : new ConvolutionMode[] {ConvolutionMode.Same, ConvolutionMode.Truncate}) {
            int[] pad1 = mode == ConvolutionMode.Same ? new int[] {0, 0} : new int[] {1, 1};
            MultiLayerNetwork reference = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(3)
                    .updater(new Adam(1e-3)).weightInit(WeightInit.RELU).dataType(DataType.FLOAT).list()
                    .layer(new ConvolutionLayer.Builder(3, 3).nOut(16).padding(pad1).convolutionMode(mode)
                            .activation(Activation.RELU).build())
                    .layer(new ConvolutionLayer.Builder(3, 3).nOut(16).padding(pad1).convolutionMode(mode)
                            .activation(Activation.TANH).build())
                    .layer(new ConvolutionLayer.Builder(5, 5).nOut(8).convolutionMode(mode)
                            .activation(Activation.RELU).build())
                    .layer(new ConvolutionLayer.Builder(2, 2).nOut(4).stride(2, 2).convolutionMode(mode)
                            .activation(Activation.IDENTITY).build())
                    .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(3)
                            .activation(Activation.SOFTMAX).build())
                    .setInputType(InputType.convolutional(12, 12, 16)).build());
            reference.init();
            MultiLayerNetwork tuned = reference.clone();
            assertEquals(4 + 1, LayerHelpers.install(tuned), mode.toString() + ": and the output layer");

            assertSameGradients(reference, tuned, batch(4, 16, 12, 12, 3, 2));
            List<DirectConvolutionHelper> helpers = helpers(tuned.getLayers());
            assertEquals(1, helpers.get(0).forwardReuses(), mode + ": ReLU output stands in for its input");
            assertEquals(0, helpers.get(1).forwardReuses(), mode + ": tanh needs its input, computed again");
            assertEquals(1, helpers.get(3).forwardReuses(), mode + ": identity");
            assertEquals(direct, helpers.get(0).directBackwardPasses(), mode + ": 3x3, 16 channels in and out");
            assertEquals(direct, helpers.get(1).directBackwardPasses(), mode.toString());
            assertEquals(0, helpers.get(2).directBackwardPasses(), mode + ": 5x5 is never Winograd");
            assertEquals(0, helpers.get(3).directBackwardPasses(), mode + ": stride 2 is never Winograd");
        }
    }

    @Test
    void aTrainingStepMatchesDl4jsFromAnyState() {
        // Not several steps in a row: at the recipe's learning rate, float-rounding differences between two exact
        // implementations grow step by step. One step from the same (trained) state at a time instead.
        ComputationGraph reference = Zoo.create("resnet20", Map.of("input", "1,16,16", "numClasses", 10, "shortcut", "B"));
        for (int step = 0; step < 3; step++) {
            ComputationGraph tuned = reference.clone();
            LayerHelpers.install(tuned);
            DataSet batch = batch(8, 1, 16, 16, 10, 10 + step);
            assertSameGradients(reference, tuned, batch);
            reference.fit(batch);
            tuned.fit(batch);
            for (var e : reference.paramTable().entrySet()) {
                INDArray expected = e.getValue();
                double relative = expected.sub(tuned.paramTable().get(e.getKey())).norm2Number().doubleValue()
                        / Math.max(expected.norm2Number().doubleValue(), 1e-12);
                assertTrue(relative < 1e-4, "step " + step + ": " + e.getKey() + " (weights, and the running "
                        + "statistics of batch norm) differs by " + relative);
            }
            INDArray x = batch(8, 1, 16, 16, 10, 99).getFeatures();
            double out = reference.outputSingle(x).sub(tuned.outputSingle(x)).amaxNumber().doubleValue();
            assertTrue(out < 1e-4, "step " + step + ": inference outputs differ by " + out);
        }
    }

    @Test
    void anInputOverwrittenInPlaceIsNeverAnsweredFromAnEarlierCall() throws Exception {
        for (String path : new String[] {"direct", "onednn"}) {
            withConvolution(path, LayerHelpersTest::anInputOverwrittenInPlaceIsNeverAnsweredFromAnEarlierCallOnce);
        }
    }

    private static void anInputOverwrittenInPlaceIsNeverAnsweredFromAnEarlierCallOnce() {
        MultiLayerNetwork reference = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(5)
                .dataType(DataType.FLOAT).trainingWorkspaceMode(WorkspaceMode.NONE)
                .inferenceWorkspaceMode(WorkspaceMode.NONE).list()
                .layer(new ConvolutionLayer.Builder(3, 3).nOut(4).convolutionMode(ConvolutionMode.Same)
                        .activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(3)
                        .activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutional(8, 8, 1)).build());
        reference.init();
        MultiLayerNetwork tuned = reference.clone();
        assertEquals(1 + 1, LayerHelpers.install(tuned), "the convolution and the output layer");
        INDArray x = Nd4j.rand(DataType.FLOAT, 2, 1, 8, 8);
        tuned.output(x);
        x.assign(Nd4j.rand(DataType.FLOAT, 2, 1, 8, 8).subi(0.5));
        INDArray expected = reference.output(x);
        INDArray actual = tuned.output(x);
        assertTrue(expected.equalsWithEps(actual, 1e-5), "the second output is computed from the new values");
        Object helper = LayerHelpers.helperOf(tuned.getLayer(0));
        assertEquals(0, helper instanceof OneDnnConvolutionHelper oneDnn ? oneDnn.forwardReuses()
                : ((DirectConvolutionHelper) helper).forwardReuses());
    }

    /**
     * With workspaces, an output from an earlier call stays attached to a workspace whose scope is open again in the
     * next call; only the workspace's generation tells it is stale. Inference twice on the same input array with the
     * parameters changed in between, and a training step on the same batch twice.
     */
    @Test
    void anOutputFromAnEarlierWorkspaceCycleIsNeverReused() throws Exception {
        for (String path : new String[] {"direct", "onednn"}) {
            withConvolution(path, () -> {
                MultiLayerNetwork reference = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(6)
                        .dataType(DataType.FLOAT).updater(new Adam(1e-2)).list()
                        .layer(new ConvolutionLayer.Builder(3, 3).nOut(8).convolutionMode(ConvolutionMode.Same)
                                .activation(Activation.RELU).build())
                        .layer(new ConvolutionLayer.Builder(3, 3).nOut(4).convolutionMode(ConvolutionMode.Same)
                                .activation(Activation.IDENTITY).build())
                        .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(3)
                                .activation(Activation.SOFTMAX).build())
                        .setInputType(InputType.convolutional(8, 8, 2)).build());
                reference.init();
                MultiLayerNetwork tuned = reference.clone();
                assertEquals(2 + 1, LayerHelpers.install(tuned), "and the output layer");
                INDArray x = Nd4j.rand(DataType.FLOAT, 2, 2, 8, 8);
                tuned.output(x);
                INDArray changed = reference.params().mul(1.5);
                reference.setParams(changed);
                tuned.setParams(changed);
                assertTrue(reference.output(x).equalsWithEps(tuned.output(x), 1e-5),
                        path + ": the second output is computed with the new parameters");
                DataSet batch = batch(2, 2, 8, 8, 3, 4);
                for (int step = 0; step < 3; step++) {
                    reference.fit(batch);
                    tuned.fit(batch);
                    assertEquals(reference.score(), tuned.score(), 1e-5 * reference.score(), path + ", step " + step);
                }
            });
        }
    }

    @Test
    void batchNormGradientsStayExactWhenTheMeanDwarfsTheSpread() throws Exception {
        for (String path : BATCH_NORM_PATHS) {
            withBatchNorm(path, () -> batchNormGradientsStayExactWhenTheMeanDwarfsTheSpread(path));
        }
    }

    private static void batchNormGradientsStayExactWhenTheMeanDwarfsTheSpread(String path) {
        MultiLayerNetwork reference = batchNormThenConvolution(7, DataType.FLOAT);
        MultiLayerNetwork tuned = reference.clone();
        assertEquals(2 + 1, LayerHelpers.install(tuned), "and the output layer");
        Object helper = LayerHelpers.helperOf(tuned.getLayer(0));
        assertEquals(batchNormHelperClass(path), helper.getClass(), path);
        // The truth for float arithmetic on inputs near 1000: the same network in double precision.
        MultiLayerNetwork exact = batchNormThenConvolution(7, DataType.DOUBLE);
        exact.setParams(reference.params().castTo(DataType.DOUBLE));

        DataSet centred = batch(16, 3, 6, 6, 2, 3);
        assertSameGradients(reference, tuned, centred);
        // Centred statistics: a mean of 1000 with a spread of 1 would lose the variance in E[x^2] - mean^2.
        DataSet offset = new DataSet(centred.getFeatures().add(1000), centred.getLabels());
        assertSameGradients(exact, tuned, new DataSet(offset.getFeatures().castTo(DataType.DOUBLE),
                offset.getLabels().castTo(DataType.DOUBLE)), offset);
        assertEquals(List.of(2L, 2L), Arrays.stream(ownPasses(helper)).boxed().toList(),
                path + ": both steps took the helper's own passes, forward and backward");
    }

    @Test
    void batchNormRunningStatisticsAndInferenceMatchDl4jsHelper() throws Exception {
        for (String path : BATCH_NORM_PATHS) {
            withBatchNorm(path, () -> batchNormRunningStatisticsAndInferenceMatchDl4jsHelper(path));
        }
    }

    private static void batchNormRunningStatisticsAndInferenceMatchDl4jsHelper(String path) {
        MultiLayerNetwork reference = batchNormThenConvolution(11, DataType.FLOAT);
        MultiLayerNetwork tuned = reference.clone();
        LayerHelpers.install(tuned);
        for (int step = 0; step < 3; step++) {
            DataSet b = batch(16, 3, 6, 6, 2, 20 + step);
            b.getFeatures().muli(3).addi(step); // statistics that move from step to step
            reference.fit(b);
            tuned.fit(b);
        }
        for (String key : new String[] {"0_mean", "0_log10stdev", "0_gamma", "0_beta"}) {
            INDArray expected = reference.getParam(key);
            double diff = expected.sub(tuned.getParam(key)).amaxNumber().doubleValue();
            assertTrue(diff <= 1e-4 * Math.max(1, expected.amaxNumber().doubleValue()),
                    path + ": " + key + " differs by " + diff);
        }
        INDArray x = batch(4, 3, 6, 6, 2, 99).getFeatures();
        double out = reference.output(x).sub(tuned.output(x)).amaxNumber().doubleValue();
        assertTrue(out < 1e-4, path + ": inference with the running statistics differs by " + out);
        if (LayerHelpers.helperOf(tuned.getLayer(0)) instanceof OneDnnBatchNormHelper helper) {
            assertEquals(3, helper.trainingPasses(), "training ran on oneDNN's primitive; plans:\n"
                    + helper.implementations() + "fallback calls " + helper.fallbackCalls());
            assertEquals(0, helper.fallbackCalls(), "inference goes to DL4J's helper by design, not as a fallback");
        } else {
            assertEquals("nd4j", path, "the oneDNN path installs its helper where the natives load");
        }
    }

    @Test
    void batchNormOutsideItsLayoutIsTheParents() throws Exception {
        for (String path : BATCH_NORM_PATHS) {
            withBatchNorm(path, LayerHelpersTest::batchNormOutsideItsLayoutIsTheParentsOnce);
        }
    }

    private static void batchNormOutsideItsLayoutIsTheParentsOnce() {
        // A batch norm over dense activations (rank 2, which DL4J hands on as [N, C, 1, 1]) and one in NHWC.
        MultiLayerNetwork reference = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(13)
                .dataType(DataType.FLOAT).updater(new Adam(1e-3)).list()
                .layer(new ConvolutionLayer.Builder(3, 3).nOut(4).dataFormat(CNN2DFormat.NHWC)
                        .activation(Activation.IDENTITY).build())
                .layer(new BatchNormalization.Builder()
                        .dataFormat(CNN2DFormat.NHWC).build())
                .layer(new DenseLayer.Builder().nOut(5)
                        .activation(Activation.IDENTITY).build())
                .layer(new BatchNormalization.Builder().build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nOut(2)
                        .activation(Activation.IDENTITY).build())
                .setInputType(InputType.convolutional(6, 6, 3, CNN2DFormat.NHWC)).build());
        reference.init();
        MultiLayerNetwork tuned = reference.clone();
        LayerHelpers.install(tuned);
        INDArray x = Nd4j.randn(DataType.FLOAT, 8, 6, 6, 3);
        INDArray y = Nd4j.randn(DataType.FLOAT, 8, 2);
        assertSameGradients(reference, tuned, new DataSet(x, y));
        for (int layer : new int[] {1, 3}) {
            if (LayerHelpers.helperOf(tuned.getLayer(layer)) instanceof ChannelPassBatchNormHelper helper) {
                assertEquals(0, helper.channelPassSteps(), "layer " + layer + " is not a rank-4 NCHW array");
            }
        }
        if (LayerHelpers.helperOf(tuned.getLayer(1)) instanceof OneDnnBatchNormHelper helper) {
            assertEquals(0, helper.trainingPasses() + helper.backwardPasses(), "NHWC is not taken");
            assertEquals(2, helper.fallbackCalls(), "its forward and backward pass went to the fallback");
        }
    }

    private static MultiLayerNetwork batchNormThenConvolution(long seed, DataType dataType) {
        return batchNormThenConvolution(seed, dataType, 3);
    }

    private static MultiLayerNetwork batchNormThenConvolution(long seed, DataType dataType, int channels) {
        MultiLayerNetwork network = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(seed)
                .dataType(dataType).updater(new Adam(1e-3)).list()
                .layer(new BatchNormalization.Builder().build())
                .layer(new ConvolutionLayer.Builder(1, 1).nOut(2).activation(Activation.IDENTITY).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nOut(2)
                        .activation(Activation.IDENTITY).build())
                .setInputType(InputType.convolutional(6, 6, channels)).build());
        network.init();
        return network;
    }

    @Test
    void batchNormOnOneDnnsBlockedLayoutsGivesDl4jsGradientsAndStatistics() throws Exception {
        assertTrue(OneDnn.available(), "the dnnl natives load on this machine: " + OneDnn.failure());
        // 16 channels: blocks of 16 (or 8 on a CPU without AVX-512); 24: blocks of 8; 3: no blocks, NCHW
        for (int channels : new int[] {16, 24, 3}) {
            MultiLayerNetwork reference = batchNormThenConvolution(13, DataType.FLOAT, channels);
            MultiLayerNetwork blocked = reference.clone();
            MultiLayerNetwork nchw = reference.clone();
            LayerHelpers.install(blocked);
            withProperty(LayerHelpers.BATCH_NORM_LAYOUT, "nchw", () -> LayerHelpers.install(nchw));
            MultiLayerNetwork exact = batchNormThenConvolution(13, DataType.DOUBLE, channels);
            exact.setParams(reference.params().castTo(DataType.DOUBLE));
            DataSet b = batch(10, channels, 6, 6, 2, 4);
            DataSet offset = new DataSet(b.getFeatures().mul(2).addi(50), b.getLabels());
            assertSameGradients(reference, blocked, b);
            assertSameGradients(nchw, blocked, b);
            assertSameGradients(exact, blocked, new DataSet(offset.getFeatures().castTo(DataType.DOUBLE),
                    offset.getLabels().castTo(DataType.DOUBLE)), offset);
            for (int step = 0; step < 2; step++) {
                reference.fit(offset);
                blocked.fit(offset);
            }
            INDArray mean = reference.getParam("0_mean");
            assertTrue(mean.sub(blocked.getParam("0_mean")).amaxNumber().doubleValue()
                    <= 1e-4 * mean.amaxNumber().doubleValue(), channels + " channels: running mean");
            var helper = (OneDnnBatchNormHelper) LayerHelpers.helperOf(blocked.getLayer(0));
            var plain = (OneDnnBatchNormHelper) LayerHelpers.helperOf(nchw.getLayer(0));
            assertEquals(0, helper.fallbackCalls());
            String plans = helper.implementations();
            assertEquals(channels % 8 == 0, plans.contains("jit"), channels + " channels: " + plans);
            assertTrue(plain.implementations().contains("ncsp"), plain.implementations());
        }
    }

    @Test
    void theBatchNormSwitchChoosesTheHelperAndInfoSaysWhich() throws Exception {
        withBatchNorm("dl4j", () -> {
            MultiLayerNetwork network = batchNormThenConvolution(3, DataType.FLOAT);
            LayerHelpers.install(network);
            assertEquals(org.deeplearning4j.nn.layers.mkldnn.MKLDNNBatchNormHelper.class,
                    LayerHelpers.helperOf(network.getLayer(0)).getClass(), "DL4J's own helper is left in place");
            assertEquals("DL4J's (zoo4j.batchNorm=dl4j)", LayerHelpers.batchNormPath());
        });
        withBatchNorm("nd4j", () -> {
            MultiLayerNetwork network = batchNormThenConvolution(3, DataType.FLOAT);
            LayerHelpers.install(network);
            assertEquals(ChannelPassBatchNormHelper.class, LayerHelpers.helperOf(network.getLayer(0)).getClass());
            assertEquals("zoo4j's passes of libnd4j's ops (zoo4j.batchNorm=nd4j)", LayerHelpers.batchNormPath());
        });
        assertTrue(OneDnn.available(), "the dnnl natives load on this machine: " + OneDnn.failure());
        assertEquals("oneDNN " + OneDnn.version() + " called directly in training (zoo4j; blocked layout inside each"
                + " call where the channels divide into blocks)", LayerHelpers.batchNormPath());
        withProperty(LayerHelpers.BATCH_NORM_LAYOUT, "nchw", () -> assertEquals("oneDNN " + OneDnn.version()
                + " called directly in training (zoo4j; NCHW, zoo4j.batchNormLayout=nchw)", LayerHelpers.batchNormPath()));
        withProperty(LayerHelpers.BATCH_NORM_LAYOUT, "nhwc", () -> assertEquals(
                "zoo4j.batchNormLayout=nhwc is not a batch-norm layout: give blocked or nchw",
                org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                        LayerHelpers::batchNormPath).getMessage()));
        withBatchNorm("cudnn", () -> {
            IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    LayerHelpers::batchNormPath);
            assertEquals("zoo4j.batchNorm=cudnn is not a batch-norm path: give onednn, nd4j or dl4j", e.getMessage());
        });
    }

    @Test
    void plainReluLayersAreReplacedAndGiveDl4jsGradientsExactly() {
        MultiLayerNetwork reference = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(17)
                .dataType(DataType.FLOAT).updater(new Adam(1e-3)).list()
                .layer(new DenseLayer.Builder().nOut(32)
                        .activation(Activation.IDENTITY).build())
                .layer(new ActivationLayer.Builder().activation(Activation.RELU).build())
                .layer(new DenseLayer.Builder().nOut(16)
                        .activation(Activation.IDENTITY).build())
                .layer(new ActivationLayer.Builder()
                        .activation(Activation.LEAKYRELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(3)
                        .activation(Activation.SOFTMAX).build())
                .setInputType(InputType.feedForward(10)).build());
        reference.init();
        MultiLayerNetwork tuned = reference.clone();
        assertEquals(4, LayerHelpers.install(tuned), "the dense layers, the plain ReLU and the output layer");
        assertInstanceOf(ReluActivationLayer.class, tuned.getLayer(1));
        assertEquals(org.deeplearning4j.nn.layers.ActivationLayer.class, tuned.getLayer(3).getClass(), "leaky ReLU");
        Nd4j.getRandom().setSeed(5);
        INDArray x = Nd4j.randn(DataType.FLOAT, 16, 10);
        x.getRow(0).assign(0); // inputs at exactly 0, where ReLU's derivative is taken as 0
        INDArray y = Nd4j.zeros(DataType.FLOAT, 16, 3);
        for (int i = 0; i < 16; i++) {
            y.putScalar(i, i % 3, 1.0);
        }
        DataSet batch = new DataSet(x, y);
        assertSameGradients(reference, tuned, batch); // the dense layers' products: the same to float rounding
        assertEquals(1, ((ReluActivationLayer) tuned.getLayer(1)).trainingPasses());

        // The ReLU layer itself: DL4J's to the bit, forward and back, inputs at exactly 0 included.
        INDArray in = Nd4j.randn(DataType.FLOAT, 16, 32);
        in.getRow(0).assign(0);
        INDArray epsilon = Nd4j.randn(DataType.FLOAT, 16, 32);
        LayerWorkspaceMgr none = LayerWorkspaceMgr.noWorkspaces();
        Layer dl4j = reference.getLayer(1);
        Layer ours = tuned.getLayer(1);
        dl4j.setInput(in.dup(), none);
        ours.setInput(in.dup(), none);
        // INDArray.equals allows 1e-5; the difference itself must be zero
        assertEquals(0.0, dl4j.activate(true, none).sub(ours.activate(true, none)).amaxNumber().doubleValue());
        assertEquals(0.0, dl4j.backpropGradient(epsilon.dup(), none).getSecond()
                .sub(ours.backpropGradient(epsilon.dup(), none).getSecond()).amaxNumber().doubleValue(),
                "the same input gradient to the bit");
        assertEquals(reference.getLayerWiseConfigurations().toJson(), tuned.getLayerWiseConfigurations().toJson(),
                "the configuration, and so a saved network, is DL4J's own");
    }

    @Test
    void forTrainingTheFirstConvolutionComputesNoInputGradientAndTrainsTheSame() {
        ComputationGraph kept = Zoo.create("lenet5", Map.of("numClasses", 10));
        ComputationGraph skipped = kept.clone();
        LayerHelpers.install(kept);
        LayerHelpers.installForTraining(skipped);
        OneDnnConvolutionHelper first = (OneDnnConvolutionHelper) LayerHelpers.helperOf(skipped.getLayer("conv1"));
        OneDnnConvolutionHelper second = (OneDnnConvolutionHelper) LayerHelpers.helperOf(skipped.getLayer("conv2"));
        assertFalse(first.computesInputGradient(), "conv1 reads the network's input: nothing reads its gradient");
        assertTrue(second.computesInputGradient(), "conv2's input gradient is conv1's output gradient");
        assertTrue(((OneDnnConvolutionHelper) LayerHelpers.helperOf(kept.getLayer("conv1"))).computesInputGradient(),
                "install alone keeps every input gradient (activation maximisation needs the image's)");
        for (int step = 0; step < 3; step++) {
            DataSet batch = batch(16, 1, 28, 28, 10, step);
            kept.fit(batch);
            skipped.fit(batch);
        }
        assertEquals(3, first.skippedInputGradients());
        assertEquals(0.0, kept.params().sub(skipped.params()).amaxNumber().doubleValue(),
                "three Adam steps to the same parameters, to the bit");
    }

    /**
     * Whether backprop reuses the forward pass's pre-activation must not hang on the garbage collector: DL4J's path
     * rounds differently, so a run of one seed would end differently from run to run (it did, when the array was held
     * by a weak reference). A listener collects garbage between every forward pass and its backprop.
     */
    @Test
    void denseBackpropReusesThePreActivationWhateverTheGarbageCollectorDoes() {
        ComputationGraph quiet = Zoo.create("lenet5", Map.of("numClasses", 10));
        ComputationGraph collected = quiet.clone();
        LayerHelpers.installForTraining(quiet);
        LayerHelpers.installForTraining(collected);
        collected.setListeners(new BaseTrainingListener() {
            @Override
            public void onForwardPass(Model model, Map<String, INDArray> activations) {
                System.gc();
            }
        });
        for (int step = 0; step < 3; step++) {
            DataSet batch = batch(16, 1, 28, 28, 10, step);
            quiet.fit(batch);
            collected.fit(batch);
        }
        assertEquals(3, ((GemmDenseLayer) collected.getLayer("fc1")).reusedPreOutputs(), "every step reused it");
        assertEquals(0.0, quiet.params().sub(collected.params()).amaxNumber().doubleValue(), "to the bit");
    }

    @Test
    void denseAndOutputLayersGiveDl4jsGradients() {
        for (String activation : List.of("RELU", "TANH")) {
            ComputationGraph reference = Zoo.create("lenet5", Map.of("numClasses", 10, "activation", activation));
            ComputationGraph tuned = reference.clone();
            LayerHelpers.installForTraining(tuned);
            assertInstanceOf(GemmDenseLayer.class, tuned.getLayer("fc1"));
            assertInstanceOf(GemmOutputLayer.class, tuned.getLayer("fc3"));
            DataSet batch = batch(16, 1, 28, 28, 10, 3);
            assertSameGradients(reference, tuned, batch);
            assertEquals(1, ((GemmDenseLayer) tuned.getLayer("fc2")).reusedPreOutputs(), activation
                    + ": backprop took the forward pass's pre-activation");
            assertEquals(reference.score(), tuned.score(), 1e-5, activation);
            INDArray x = batch.getFeatures();
            assertTrue(reference.outputSingle(false, x).equalsWithEps(tuned.outputSingle(false, x), 1e-5),
                    "inference too");
        }
    }

    @Test
    void denseLayersWithDropoutTrainAsDl4jsDo() {
        // AlexNet-small: dropout on the dense layers' inputs, applied in place to the layer before's output.
        ComputationGraph reference = Zoo.create("alexnet-small", Map.of("numClasses", 10, "input", "1,32,32"));
        ComputationGraph tuned = reference.clone();
        LayerHelpers.installForTraining(tuned);
        for (int step = 0; step < 2; step++) {
            DataSet batch = batch(8, 1, 32, 32, 10, 10 + step);
            Nd4j.getRandom().setSeed(99);
            reference.fit(batch);
            Nd4j.getRandom().setSeed(99);
            tuned.fit(batch);
        }
        double scale = reference.params().amaxNumber().doubleValue();
        double worst = reference.params().sub(tuned.params()).amaxNumber().doubleValue();
        assertTrue(worst <= 1e-5 * scale, "parameters after two steps with dropout differ by " + worst);
    }

    @Test
    void otherLayersAndOtherHelpersAreLeftAlone() {
        ComputationGraph graph = Zoo.create("resnet20", Map.of("input", "1,16,16", "numClasses", 10, "shortcut", "B"));
        assertEquals(42 + 19 + 1, LayerHelpers.install(graph));
        assertEquals(0, LayerHelpers.install(graph), "installing twice changes nothing");
        assertInstanceOf(ReluActivationLayer.class, graph.getLayer("bn1.act"), "the vertex holds the new layer");
        Layer relu = graph.getLayer("bn1.act");
        assertTrue(Arrays.stream(graph.getLayers()).anyMatch(l -> l == relu),
                "and so does the graph's layer array");
        assertTrue(Arrays.stream(graph.getLayers())
                .noneMatch(l -> l.getClass() == org.deeplearning4j.nn.layers.ActivationLayer.class),
                "no ReLU layer of DL4J's is left in it");
        assertInstanceOf(batchNormHelperClass("onednn"), LayerHelpers.helperOf(graph.getLayer("bn1")));
        Class<?> convolutionHelper = OneDnn.available() ? OneDnnConvolutionHelper.class : DirectConvolutionHelper.class;
        assertEquals(convolutionHelper, LayerHelpers.helperOf(graph.getLayer("conv1")).getClass());
        assertNull(LayerHelpers.helperOf(graph.getLayer("fc")), "dense layers have no helper to swap");
    }

    private static void assertSameGradients(Model reference, Model tuned, DataSet batch) {
        assertSameGradients(reference, tuned, batch, batch);
    }

    private static void assertSameGradients(Model reference, Model tuned, DataSet referenceBatch, DataSet batch) {
        INDArray expected = gradient(reference, referenceBatch).castTo(DataType.FLOAT);
        INDArray actual = gradient(tuned, batch);
        double scale = expected.amaxNumber().doubleValue();
        double worst = expected.sub(actual).amaxNumber().doubleValue();
        assertTrue(scale > 0, "a gradient to compare");
        assertTrue(worst <= 1e-4 * scale + 1e-6, "gradients differ by " + worst + " (largest entry " + scale + ")");
    }

    private static void assertIdentical(INDArray expected, INDArray actual, String what) {
        assertTrue(java.util.Arrays.equals(expected.shape(), actual.shape()), what);
        float[] e = expected.castTo(DataType.FLOAT).data().asFloat();
        float[] a = actual.castTo(DataType.FLOAT).data().asFloat();
        assertTrue(java.util.Arrays.equals(e, a), what + ": not identical, largest difference "
                + expected.castTo(DataType.FLOAT).sub(actual.castTo(DataType.FLOAT)).amaxNumber());
    }

    private static INDArray gradient(Model model, DataSet batch) {
        if (model instanceof ComputationGraph graph) {
            graph.setInputs(batch.getFeatures());
            graph.setLabels(batch.getLabels());
            graph.computeGradientAndScore();
            return graph.gradient().gradient().dup();
        }
        MultiLayerNetwork network = (MultiLayerNetwork) model;
        network.setInput(batch.getFeatures());
        network.setLabels(batch.getLabels());
        network.computeGradientAndScore();
        return network.gradient().gradient().dup();
    }

    private static List<DirectConvolutionHelper> helpers(Layer[] layers) {
        List<DirectConvolutionHelper> out = new ArrayList<>();
        for (Layer layer : layers) {
            if (LayerHelpers.helperOf(layer) instanceof DirectConvolutionHelper helper) {
                out.add(helper);
            }
        }
        return out;
    }

    /** Random features and one-hot labels, seeded: the same batch for every helper compared. */
    static DataSet batch(int n, int channels, int height, int width, int classes, long seed) {
        Nd4j.getRandom().setSeed(seed);
        INDArray x = Nd4j.randn(DataType.FLOAT, n, channels, height, width);
        INDArray y = Nd4j.zeros(DataType.FLOAT, n, classes);
        for (int i = 0; i < n; i++) {
            y.putScalar(i, (i * 7 + seed) % classes, 1.0);
        }
        return new DataSet(x, y);
    }
}
