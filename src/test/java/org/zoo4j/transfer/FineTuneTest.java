package org.zoo4j.transfer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.nd4j.linalg.indexing.NDArrayIndex.all;
import static org.nd4j.linalg.indexing.NDArrayIndex.point;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.zoo4j.SameBits;
import org.zoo4j.Zoo;
import org.zoo4j.base.InputShape;
import org.zoo4j.recipe.FinetuneSettings;

/** Fine-tuning on networks built in the test: weights copied, head replaced, frozen layers, head rate, adaptation. */
class FineTuneTest {
    @TempDir
    Path dir;

    private Path trained(String model, String input, long seed) throws Exception {
        return FineTuneFixtures.trained(dir, model, input, seed);
    }

    private static ComputationGraph finetune(Path from, String model, String input, int classes, FinetuneSettings settings) {
        return FineTuneFixtures.finetune(model, input, classes, settings);
    }

    private static FinetuneSettings plain(Path from) {
        return new FinetuneSettings(from.toString(), null, false, null);
    }

    private static Map<String, INDArray> params(ComputationGraph net) {
        return FineTuneFixtures.params(net);
    }

    private static DataSet batch(InputShape s, int classes, long seed) {
        return FineTuneFixtures.batch(s, classes, seed);
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
                new FinetuneSettings(from.toString(), "layer1.2.bn2", false, null));
        Map<String, INDArray> before = params(net);
        for (int step = 0; step < 3; step++) {
            net.fit(batch(InputShape.of(3, 16, 16), 4, step));
        }
        List<String> order = FineTuner.layersInOrder(net);
        List<String> frozen = order.subList(0, order.indexOf("layer1.2.bn2") + 1);
        int frozenParams = 0;
        for (Map.Entry<String, INDArray> e : before.entrySet()) {
            String layer = e.getKey().substring(0, e.getKey().lastIndexOf('_'));
            boolean changed = !SameBits.same(e.getValue(), net.getParam(e.getKey()));
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
        ComputationGraph net = finetune(from, "lenet5", "1,28,28", 3, new FinetuneSettings(from.toString(), null, true, null));
        Map<String, INDArray> before = params(net);
        net.fit(batch(InputShape.of(1, 28, 28), 3, 1));
        net.fit(batch(InputShape.of(1, 28, 28), 3, 2));
        before.forEach((key, value) -> assertEquals(key.startsWith("fc3_"), !SameBits.same(value, net.getParam(key)),
                key));
    }

    @Test
    void theHeadLearnsAtItsOwnRate() throws Exception {
        Path from = trained("lenet5", "1,28,28", 4);
        ComputationGraph net = finetune(from, "lenet5", "1,28,28", 3, new FinetuneSettings(from.toString(), null, false, 0.0));
        Map<String, INDArray> before = params(net);
        net.fit(batch(InputShape.of(1, 28, 28), 3, 1));
        // Not bit for bit: DL4J's Adam still takes a step of about its epsilon (1e-8) where the learning rate is 0, so
        // a head rate of 0 keeps the head in effect, not to the bit (freezing is what keeps weights to the bit).
        double drift = before.get("fc3_W").sub(net.getParam("fc3_W")).amaxNumber().doubleValue();
        System.out.println("head learning rate 0: the head moved by at most " + drift);
        assertTrue(drift < 1e-6, "head learning rate 0: the head stays, to " + drift);
        assertFalse(before.get("conv1_W").equals(net.getParam("conv1_W")), "the other layers learn at the base rate");

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
        assertArrayEquals(new long[] {2, 1, 2, 2}, FineTuner.adaptInputConv(w, 1).shape());
        assertEquals(w.sum(true, 1), FineTuner.adaptInputConv(w, 1));
        INDArray five = FineTuner.adaptInputConv(w, 5);
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
                "1,28,28", 5, new FinetuneSettings(from.toString(), "conv9", false, null)));
        assertTrue(e.getMessage().contains("conv9") && e.getMessage().contains("[conv1, pool1, conv2"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> finetune(from, "lenet5", "1,28,28", 5,
                new FinetuneSettings(from.toString(), "fc3", false, null)));
        assertTrue(e.getMessage().contains("head"), e.getMessage());
    }
}
