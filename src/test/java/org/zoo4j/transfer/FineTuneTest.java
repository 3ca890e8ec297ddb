package org.zoo4j.transfer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.nd4j.linalg.indexing.NDArrayIndex.all;
import static org.nd4j.linalg.indexing.NDArrayIndex.point;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.zoo4j.data.DataConfig;
import org.zoo4j.data.Normalization;
import org.zoo4j.runtime.Backend;
import org.zoo4j.training.FineTuning;
import org.zoo4j.training.ModelFile;
import org.zoo4j.training.TrainingRecipe;
import org.zoo4j.zoo.InputShape;
import org.zoo4j.zoo.Zoo;

/** Fine-tuning on networks built in the test: weights copied, head replaced, frozen layers, head rate, adaptation. */
class FineTuneTest {
    @TempDir
    Path dir;

    /** A "trained" model file: a fresh network of {@code model} at {@code input} with 10 classes, seeded. */
    private Path trained(String model, String input, long seed) throws Exception {
        Backend.init();
        TrainingRecipe recipe = TrainingRecipe.defaults().withModel(model,
                Map.of("input", input, "seed", seed, "numClasses", 10)).withData(DataConfig.of("fashion-mnist"));
        ComputationGraph net = Zoo.create(model, recipe.overrides());
        Path file = dir.resolve(model + "-" + input.replace(',', 'x') + ".zip");
        List<String> labels = IntStream.range(0, 10).mapToObj(i -> "c" + i).toList();
        ModelFile.write(file, net, recipe, labels, Normalization.scale(), InputShape.parse(input));
        return file;
    }

    /** The fine-tuned network for {@code classes} classes at {@code input}, started from {@code from}. */
    private static ComputationGraph finetune(Path from, String model, String input, int classes, FineTuning settings) {
        ComputationGraph fresh = Zoo.create(model, Map.of("input", input, "numClasses", classes, "seed", 7L));
        return FineTune.apply(settings, fresh);
    }

    private static FineTuning plain(Path from) {
        return new FineTuning(from.toString(), null, false, null);
    }

    private static Map<String, INDArray> params(ComputationGraph net) {
        Map<String, INDArray> copy = new HashMap<>();
        net.paramTable().forEach((k, v) -> copy.put(k, v.dup()));
        return copy;
    }

    private static DataSet batch(InputShape s, int classes, long seed) {
        Nd4j.getRandom().setSeed(seed);
        INDArray x = Nd4j.rand(DataType.FLOAT, 8, s.channels(), s.height(), s.width());
        INDArray y = Nd4j.zeros(DataType.FLOAT, 8, classes);
        for (int i = 0; i < 8; i++) {
            y.putScalar(i, i % classes, 1);
        }
        return new DataSet(x, y);
    }

    @Test
    void theHeadIsReplacedForTheNewClassesAndEverythingElseIsCopied() throws Exception {
        Path from = trained("lenet5", "1,28,28", 1);
        ComputationGraph source = Zoo.load(from).net();
        ComputationGraph net = finetune(from, "lenet5", "1,28,28", 5, plain(from));
        assertArrayEquals(new long[] {84, 5}, net.getParam("fc3_W").shape());
        assertEquals(5, net.getParam("fc3_b").length());
        for (String key : List.of("conv1_W", "conv1_b", "conv2_W", "fc1_W", "fc2_W", "fc2_b")) {
            assertEquals(source.getParam(key), net.getParam(key), key);
        }
    }

    @Test
    void frozenLayersAndTheirBatchNormStatisticsStayBitForBitEqualWhileTheRestLearns() throws Exception {
        Path from = trained("resnet20", "3,16,16", 2);
        ComputationGraph net = finetune(from, "resnet20", "3,16,16", 4,
                new FineTuning(from.toString(), "layer1.2.bn2", false, null));
        Map<String, INDArray> before = params(net);
        for (int step = 0; step < 3; step++) {
            net.fit(batch(InputShape.of(3, 16, 16), 4, step));
        }
        List<String> order = FineTune.layersInOrder(net);
        List<String> frozen = order.subList(0, order.indexOf("layer1.2.bn2") + 1);
        int frozenParams = 0;
        for (Map.Entry<String, INDArray> e : before.entrySet()) {
            String layer = e.getKey().substring(0, e.getKey().lastIndexOf('_'));
            boolean changed = !e.getValue().equals(net.getParam(e.getKey()));
            if (frozen.contains(layer)) {
                frozenParams++;
                assertFalse(changed, e.getKey() + " is frozen and must not change, not even BN running statistics");
            }
        }
        assertTrue(frozenParams >= 4 * 7, "conv1, bn1 and layer1 have parameters: " + frozenParams);
        assertTrue(before.containsKey("bn1_mean") && before.containsKey("layer1.2.bn2_log10stdev"), before.keySet().toString());
        assertFalse(before.get("layer2.0.conv1_W").equals(net.getParam("layer2.0.conv1_W")), "unfrozen layers learn");
        assertFalse(before.get("layer2.0.bn1_mean").equals(net.getParam("layer2.0.bn1_mean")),
                "unfrozen batch norm updates its statistics");
        assertFalse(before.get("fc_W").equals(net.getParam("fc_W")), "the head learns");
    }

    @Test
    void featureExtractorTrainsOnlyTheHead() throws Exception {
        Path from = trained("lenet5", "1,28,28", 3);
        ComputationGraph net = finetune(from, "lenet5", "1,28,28", 3, new FineTuning(from.toString(), null, true, null));
        Map<String, INDArray> before = params(net);
        net.fit(batch(InputShape.of(1, 28, 28), 3, 1));
        net.fit(batch(InputShape.of(1, 28, 28), 3, 2));
        before.forEach((key, value) -> assertEquals(key.startsWith("fc3_"), !value.equals(net.getParam(key)), key));
    }

    @Test
    void theHeadLearnsAtItsOwnRate() throws Exception {
        Path from = trained("lenet5", "1,28,28", 4);
        ComputationGraph net = finetune(from, "lenet5", "1,28,28", 3, new FineTuning(from.toString(), null, false, 0.0));
        Map<String, INDArray> before = params(net);
        net.fit(batch(InputShape.of(1, 28, 28), 3, 1));
        assertEquals(before.get("fc3_W"), net.getParam("fc3_W"), "head learning rate 0: the head stays");
        assertFalse(before.get("conv1_W").equals(net.getParam("conv1_W")), "the other layers learn at the base rate");

        // A schedule step keeps the head's ratio to the base rate.
        FineTune.setLearningRate(net, new FineTuning(from.toString(), null, false, 0.004), 0.0005, 0.001);
        assertEquals(0.002, net.getLearningRate("fc3"), 1e-12);
        assertEquals(0.0005, net.getLearningRate("conv1"), 1e-12);
    }

    @Test
    void scheduledRatesReachTheUpdaterOfAGraphWithFrozenLayers() throws Exception {
        Path from = trained("lenet5", "1,28,28", 10);
        FineTuning settings = new FineTuning(from.toString(), "conv2", false, 0.01);
        ComputationGraph net = finetune(from, "lenet5", "1,28,28", 3, settings);
        net.fit(batch(InputShape.of(1, 28, 28), 3, 1)); // the updater state exists from here on
        FineTune.setLearningRate(net, settings, 0, 0.001);
        Map<String, INDArray> before = params(net);
        net.fit(batch(InputShape.of(1, 28, 28), 3, 2));
        before.forEach((key, value) -> assertEquals(value, net.getParam(key), key + ": rate 0 everywhere"));
        FineTune.setLearningRate(net, settings, 0.001, 0.001);
        net.fit(batch(InputShape.of(1, 28, 28), 3, 3));
        assertFalse(before.get("fc1_W").equals(net.getParam("fc1_W")), "the rate is back");
        assertFalse(before.get("fc3_W").equals(net.getParam("fc3_W")));
        assertEquals(before.get("conv2_W"), net.getParam("conv2_W"), "frozen");
    }

    @Test
    void channelAdaptationPreservesActivationsOnGreyImages() throws Exception {
        // 3 -> 1: a colour model on a grey image repeated over 3 channels == the adapted grey model on the grey image.
        Path rgb = trained("lenet5", "3,28,28", 5);
        ComputationGraph colour = Zoo.load(rgb).net();
        ComputationGraph grey = finetune(rgb, "lenet5", "1,28,28", 10, plain(rgb));
        Nd4j.getRandom().setSeed(11);
        INDArray image = Nd4j.rand(DataType.FLOAT, 2, 1, 28, 28);
        INDArray repeated = Nd4j.concat(1, image, image, image);
        assertClose(colour.feedForward(repeated, false).get("fc2"), grey.feedForward(image, false).get("fc2"));

        // 1 -> 3: the grey model's activations on the grey image == the adapted colour model's on the repeated image.
        Path greyFile = trained("lenet5", "1,28,28", 6);
        ComputationGraph greyTrained = Zoo.load(greyFile).net();
        ComputationGraph colourAdapted = finetune(greyFile, "lenet5", "3,28,28", 10, plain(greyFile));
        assertClose(greyTrained.feedForward(image, false).get("fc2"),
                colourAdapted.feedForward(repeated, false).get("fc2"));

        INDArray w = Nd4j.arange(2 * 3 * 2 * 2).castTo(DataType.FLOAT).reshape(2, 3, 2, 2);
        assertArrayEquals(new long[] {2, 1, 2, 2}, FineTune.adaptInputConv(w, 1).shape());
        assertEquals(w.sum(true, 1), FineTune.adaptInputConv(w, 1));
        INDArray five = FineTune.adaptInputConv(w, 5);
        for (int c = 0; c < 5; c++) {
            assertEquals(w.get(all(), point(c % 3), all(), all()).mul(3.0 / 5), five.get(all(), point(c), all(), all()),
                    "5 channels: the 3 repeated cyclically, scaled by 3/5; channel " + c);
        }
    }

    private static void assertClose(INDArray expected, INDArray actual) {
        double diff = expected.sub(actual).amaxNumber().doubleValue();
        assertTrue(diff < 1e-5, "largest difference " + diff);
    }

    @Test
    void aGlobalPoolingModelChangesInputSizeAFlattenHeadSaysWhyItCannot() throws Exception {
        Path resnet = trained("resnet20", "3,32,32", 7);
        ComputationGraph source = Zoo.load(resnet).net();
        ComputationGraph bigger = finetune(resnet, "resnet20", "3,40,40", 10, plain(resnet));
        assertEquals(source.getParam("layer3.2.conv2_W"), bigger.getParam("layer3.2.conv2_W"));
        assertArrayEquals(new long[] {2, 10}, bigger.outputSingle(Nd4j.rand(DataType.FLOAT, 2, 3, 40, 40)).shape());

        Path lenet = trained("lenet5", "1,28,28", 8);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> finetune(lenet, "lenet5", "1,40,40", 10, plain(lenet)));
        assertTrue(e.getMessage().contains("fc1") && e.getMessage().contains("flatten")
                && e.getMessage().contains("input size"), e.getMessage());
    }

    @Test
    void anUnknownFreezeLayerListsTheLayers() throws Exception {
        Path from = trained("lenet5", "1,28,28", 9);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> finetune(from, "lenet5",
                "1,28,28", 5, new FineTuning(from.toString(), "conv9", false, null)));
        assertTrue(e.getMessage().contains("conv9") && e.getMessage().contains("[conv1, pool1, conv2"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> finetune(from, "lenet5", "1,28,28", 5,
                new FineTuning(from.toString(), "fc3", false, null)));
        assertTrue(e.getMessage().contains("head"), e.getMessage());
    }
}
