package org.zoo4j.zoo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.zoo4j.Zoo;
import org.zoo4j.base.Configs;
import org.zoo4j.base.InputShape;

/** The same checks for every registered model (as timm's tests/test_models.py). */
class RegistryModelsTest {
    /** Side of the reduced input for forward and training checks; models that need more get their minimum. */
    private static final int REDUCED = 32;
    /** Four examples: with two, batch norm over a 1x1 map outputs +-1 whatever its input, and passes no gradient back. */
    private static final int BATCH = 4;

    static Stream<String> models() {
        return Zoo.registry().names().stream();
    }

    @ParameterizedTest
    @MethodSource("models")
    void trainableParametersMatchTheModelCard(String name) {
        ModelRegistry.Entry<?> e = Zoo.get(name);
        assertNotNull(e.card(), "model card");
        assertEquals(e.card().input(), e.preset().input(), "card input vs preset");
        assertEquals(e.card().classes(), e.preset().numClasses(), "card classes vs preset");
        assertEquals(e.card().trainableParams(), e.define(Map.of()).trainableParams(), name + " trainable parameters");
    }

    /** The card names the model's weight sets, whose figures live in the manifest alone. */
    @ParameterizedTest
    @MethodSource("models")
    void theCardNamesTheWeightSetsAndRepeatsNoneOfTheirFigures(String name) {
        ModelRegistry.Entry<?> e = Zoo.get(name);
        assertEquals(e.weights().keySet(), new TreeSet<>(e.card().weights()), name + ": card weights vs manifest");
        WeightsManifest manifest = Zoo.registry().weights();
        for (ArchitectureCard.Accuracy a : e.card().accuracies()) {
            for (String set : e.weights().keySet()) {
                WeightsManifest.Accuracy published = manifest.accuracyOf(set);
                assertTrue(published == null || !a.dataset().equals(published.dataset()),
                        name + ": the card repeats " + set + "'s " + a.dataset() + " figure");
            }
        }
    }

    /** zoo4j's own shape and parameter arithmetic (shown by describe) agrees with DL4J's, layer by layer. */
    @ParameterizedTest
    @MethodSource("models")
    void shapesAndParameterCountsAgreeWithDl4j(String name) {
        ModelRegistry.Entry<?> e = Zoo.get(name);
        NetworkLayout net = e.define(Map.of());
        ComputationGraphConfiguration conf = net.build();
        InputShape in = e.preset().input();
        Map<String, InputType> types = conf.getLayerActivationTypes(InputType.convolutional(in.height(), in.width(), in.channels()));
        long dl4jParams = 0;
        for (NetworkLayout.Layer layer : net.layers()) {
            InputType t = types.get(layer.name());
            assertNotNull(t, "DL4J has no vertex " + layer.name());
            long[] shape = t.getShape(false);
            assertEquals(layer.output().size(), Arrays.stream(shape).reduce(1, (a, b) -> a * b),
                    layer.name() + " output " + layer.output() + " vs DL4J " + t);
            if (conf.getVertices().get(layer.name()) instanceof LayerVertex lv) {
                long n = lv.getLayerConf().getLayer().initializer().numParams(lv.getLayerConf());
                assertEquals(layer.total(), n, layer.name() + " parameters");
                dl4jParams += n;
            }
        }
        assertEquals(net.totalParams(), dl4jParams);
    }

    @ParameterizedTest
    @MethodSource("models")
    void configRoundTripsThroughJsonAndYaml(String name) {
        ArchitectureConfig preset = Zoo.get(name).preset();
        assertEquals(preset, Configs.fromJson(Configs.toJson(preset), preset.getClass()));
        assertEquals(preset, Configs.fromYaml(Configs.toYaml(preset), preset.getClass()));
    }

    /** Forward gives finite softmax rows; one fit step changes every trainable array; save and load keep the outputs. */
    @ParameterizedTest
    @MethodSource("models")
    void forwardTrainSaveLoadAtReducedInput(String name, @TempDir Path dir) throws Exception {
        ModelRegistry.Entry<?> e = Zoo.get(name);
        Map<String, Object> overrides = reducedInput(e);
        ComputationGraph graph = e.create(overrides);
        InputShape in = Configs.override(e.preset(), overrides).input();
        int classes = e.preset().numClasses();
        Nd4j.getRandom().setSeed(7);
        INDArray x = Nd4j.rand(DataType.FLOAT, BATCH, in.channels(), in.height(), in.width());

        INDArray out = graph.outputSingle(x);
        assertArrayEquals(new long[] {BATCH, classes}, out.shape());
        assertTrue(Double.isFinite(out.sumNumber().doubleValue()), "finite outputs");
        INDArray rowSums = out.sum(1);
        for (int i = 0; i < BATCH; i++) {
            assertEquals(1.0, rowSums.getDouble(i), 1e-4, "softmax row " + i);
        }

        File file = dir.resolve(name + ".zip").toFile();
        ModelSerializer.writeModel(graph, file, false); // weights only: the updater is the trainer's concern
        ComputationGraph loaded = ModelSerializer.restoreComputationGraph(file, false);
        assertEquals(graph.outputSingle(x), loaded.outputSingle(x), "outputs after save and load");
        Files.deleteIfExists(file.toPath());

        Map<String, INDArray> before = new HashMap<>();
        graph.paramTable().forEach((k, v) -> before.put(k, v.dup()));
        INDArray labels = Nd4j.zeros(BATCH, classes);
        for (int i = 0; i < BATCH; i++) {
            labels.putScalar(i, i % classes, 1.0);
        }
        graph.fit(new DataSet(x, labels));
        for (Map.Entry<String, INDArray> p : graph.paramTable().entrySet()) {
            if (!trainable(graph, p.getKey())) {
                continue;
            }
            // INDArray.equals tolerates differences up to 1e-5; a first step of a deep net moves some arrays less.
            double change = p.getValue().sub(before.get(p.getKey())).amaxNumber().doubleValue();
            assertTrue(change > 0, name + ": " + p.getKey() + " did not change in one fit step");
        }

    }

    /** The models with no batch normalisation: nothing rescales their activations once training has started. */
    static Stream<String> modelsWithoutBatchNorm() {
        return models().filter(name -> Zoo.get(name).define(Map.of()).layers().stream()
                .noneMatch(l -> l.type().startsWith("batch norm")));
    }

    /**
     * At initialisation a network without batch norm should be unsure: on standardised noise its loss is near that of
     * a uniform guess, ln(classes) (in training mode, dropout on, as the first steps see it). Logits that start large
     * saturate the softmax and the first steps throw the weights far: with He's initialisation alexnet-small's first
     * loss was 11.6 on 10 classes (weight decay's term included) and its recipe ended its first epoch at chance.
     * (With batch norm the networks start further off, 3.5 to 12 at this input on the ResNets, and ResNet-20's recipe
     * trains.)
     */
    @ParameterizedTest
    @MethodSource("modelsWithoutBatchNorm")
    void initialLossIsNearAUniformGuess(String name) {
        ModelRegistry.Entry<?> e = Zoo.get(name);
        Map<String, Object> overrides = reducedInput(e);
        ComputationGraph graph = e.create(overrides);
        InputShape in = Configs.override(e.preset(), overrides).input();
        int classes = e.preset().numClasses();
        int batch = 16;
        Nd4j.getRandom().setSeed(11);
        INDArray x = Nd4j.randn(DataType.FLOAT, batch, in.channels(), in.height(), in.width());
        INDArray labels = Nd4j.zeros(DataType.FLOAT, batch, classes);
        for (int i = 0; i < batch; i++) {
            labels.putScalar(i, (i * 7) % classes, 1.0);
        }
        double loss = graph.score(new DataSet(x, labels), true);
        double uniform = Math.log(classes);
        assertTrue(Math.abs(loss - uniform) < 1.0, String.format("%s: initial loss %.3f, a uniform guess's %.3f", name,
                loss, uniform));
    }

    /**
     * Trainable, and with a gradient: batch-norm running statistics are not trained, and the bias of a convolution that
     * feeds a batch norm gets no gradient (the normalisation subtracts it again), as in PyTorch.
     */
    static boolean trainable(ComputationGraph graph, String key) {
        String layer = key.substring(0, key.lastIndexOf('_'));
        String param = key.substring(key.lastIndexOf('_') + 1);
        if (graph.getLayer(layer).conf().getLayer() instanceof BatchNormalization) {
            return param.equals("gamma") || param.equals("beta");
        }
        if (param.equals("b")) {
            for (String next : graph.getConfiguration().getVertexInputs().entrySet().stream()
                    .filter(en -> en.getValue().contains(layer)).map(Map.Entry::getKey).toList()) {
                if (graph.getConfiguration().getVertices().get(next) instanceof LayerVertex lv
                        && lv.getLayerConf().getLayer() instanceof BatchNormalization) {
                    return false;
                }
            }
        }
        return true;
    }

    /** A 32x32 input where the architecture allows, else the smallest it accepts. */
    static Map<String, Object> reducedInput(ModelRegistry.Entry<?> e) {
        InputShape preset = e.preset().input();
        Map<String, Object> overrides = new LinkedHashMap<>();
        int side = Math.min(REDUCED, Math.min(preset.height(), preset.width()));
        try {
            e.define(Map.of("input", preset.withSize(side, side).toString()));
        } catch (IllegalArgumentException tooSmall) {
            side = minimum(e);
        }
        overrides.put("input", preset.withSize(side, side).toString());
        // The presets' SGD rates (0.1) are for real data; one step on noise would blow the deepest nets up.
        overrides.put("updater.learningRate", 1e-3);
        return overrides;
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static int minimum(ModelRegistry.Entry e) {
        return ModelRegistry.Models.smallestSquareInput(e.family(), e.name(), e.preset());
    }

    /** Full-size forward of the largest models. */
    @Tag("slow")
    @ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"vgg16", "resnet152"})
    void fullSizeForward(String name) {
        ComputationGraph graph = Zoo.create(name);
        InputShape in = Zoo.get(name).preset().input();
        INDArray out = graph.outputSingle(Nd4j.rand(DataType.FLOAT, 1, in.channels(), in.height(), in.width()));
        assertArrayEquals(new long[] {1, 1000}, out.shape());
        assertEquals(1.0, out.sumNumber().doubleValue(), 1e-4);
    }
}
