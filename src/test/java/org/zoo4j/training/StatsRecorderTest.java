package org.zoo4j.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.regularization.WeightDecay;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.zoo4j.base.Configs;
import org.zoo4j.recipe.LoopSettings;
import org.zoo4j.recipe.LrSchedule;
import org.zoo4j.recipe.Monitor;
import org.zoo4j.runtime.Backend;

/**
 * The per-step statistics: the update it records is the change the step made to the parameters (Adam, weight decay
 * and all), batch norm's running statistics are left out, it is off unless asked for and leaves the network as it
 * found it, and with several workers it records from the network their average goes to.
 */
class StatsRecorderTest {
    @TempDir
    Path dir;

    private final PrintStream quiet = new PrintStream(PrintStream.nullOutputStream());

    @BeforeAll
    static void backend() {
        Backend.init();
    }

    private static MultiLayerNetwork network() {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(5).updater(new Adam(0.01))
                .weightInit(WeightInit.XAVIER).dataType(DataType.FLOAT).list()
                .layer(new ConvolutionLayer.Builder(3, 3).nOut(4).activation(Activation.IDENTITY)
                        .regularization(List.of(new WeightDecay(1e-3, true))).build())
                .layer(new BatchNormalization.Builder().activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(3)
                        .activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutional(8, 8, 1)).build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    private static List<DataSet> batches(int n) {
        Nd4j.getRandom().setSeed(9);
        List<DataSet> list = new ArrayList<>();
        for (int i = 0; i < n * 16; i++) {
            INDArray label = Nd4j.zeros(DataType.FLOAT, 1, 3);
            label.putScalar(0, i % 3, 1);
            list.add(new DataSet(Nd4j.rand(DataType.FLOAT, 1, 1, 8, 8).addi(i % 3), label));
        }
        return list;
    }

    private static List<JsonNode> lines(Path run) throws Exception {
        List<JsonNode> lines = new ArrayList<>();
        for (String line : Files.readAllLines(run.resolve(StatsRecorder.FILE))) {
            lines.add(Configs.json().readTree(line));
        }
        return lines;
    }

    /** Each trainable array of each layer (batch norm's mean and variance left out), copied. */
    private static Map<String, List<INDArray>> trainable(MultiLayerNetwork net) {
        Map<String, List<INDArray>> all = new LinkedHashMap<>();
        for (Layer layer : net.getLayers()) {
            List<INDArray> arrays = new ArrayList<>();
            layer.paramTable().forEach((key, array) -> {
                if (!key.equals("mean") && !key.equals("var") && !key.equals("log10stdev")) {
                    arrays.add(array.dup());
                }
            });
            String name = layer.conf().getLayer().getLayerName();
            all.put(name != null ? name : "#" + layer.getIndex(), arrays);
        }
        return all;
    }

    @Test
    void theRecordedUpdateIsTheChangeTheStepMadeToEachLayersParameters() throws Exception {
        MultiLayerNetwork net = network();
        RunDirectory run = new RunDirectory(dir.resolve("run"), quiet);
        StatsRecorder recorder = new StatsRecorder(net, run, 1, 1, () -> 1);
        recorder.attach();
        assertTrue(net.getListeners().contains(recorder), "attached to the network it records");
        List<DataSet> data = batches(3);
        Map<String, Double> expected = new LinkedHashMap<>();
        for (int b = 0; b < 3; b++) {
            Map<String, List<INDArray>> before = trainable(net);
            net.fit(DataSet.merge(data.subList(16 * b, 16 * b + 16)));
            Map<String, List<INDArray>> after = trainable(net);
            if (b == 2) {
                before.forEach((layer, arrays) -> {
                    double sum = 0;
                    long count = 0;
                    for (int i = 0; i < arrays.size(); i++) {
                        sum += after.get(layer).get(i).sub(arrays.get(i)).norm1Number().doubleValue();
                        count += arrays.get(i).length();
                    }
                    expected.put(layer, sum / count);
                });
            }
        }
        recorder.detach();
        assertFalse(net.getListeners().contains(recorder), "detached again");

        List<JsonNode> lines = lines(dir.resolve("run"));
        assertEquals(4, lines.size(), "a start line and one line per step");
        JsonNode start = lines.get(0);
        assertEquals("start", start.get("type").asText());
        assertEquals(3, start.get("outputs").asInt());
        assertEquals(3, start.get("network").size());
        JsonNode last = lines.get(3);
        assertEquals("step", last.get("type").asText());
        assertEquals(3, last.get("step").asInt());
        assertEquals(0.01, last.get("lr").asDouble(), 1e-9);
        assertTrue(last.get("loss").asDouble() > 0);
        assertTrue(last.get("imagesPerSecond").asDouble() > 0);
        assertTrue(last.get("heapBytes").asLong() > 0 && last.get("rssBytes").asLong() > 0);
        assertTrue(last.get("statsMillis").asDouble() > 0, "the recorder's own time");
        JsonNode layers = last.get("layers");
        assertEquals(3, layers.size(), "conv, batch norm (gamma and beta) and output");
        for (JsonNode layer : layers) {
            String name = layer.get("name").asText();
            double update = layer.get("update").asDouble();
            assertEquals(expected.get(name), update, 1e-6 * expected.get(name) + 1e-9,
                    name + ": the updater's output is the parameters' change");
            assertEquals(Math.log10(update / layer.get("param").asDouble()), layer.get("log10Ratio").asDouble(), 1e-9);
        }
    }

    @Test
    void offByDefaultAndOnlyWhereAskedFor() throws Exception {
        MultiLayerNetwork net = network();
        LoopSettings two = new LoopSettings(2, LrSchedule.CONSTANT, Monitor.ACCURACY, 0, 1);
        TrainingLoop.builder(net, new ListDataSetIterator<>(batches(4), 16)).settings(two)
                .runDirectory(dir.resolve("off")).console(quiet).build().run();
        assertFalse(Files.exists(dir.resolve("off").resolve(StatsRecorder.FILE)));

        TrainingLoop.builder(net, new ListDataSetIterator<>(batches(4), 16)).settings(two).statsEvery(3)
                .runDirectory(dir.resolve("on")).console(quiet).build().run();
        List<JsonNode> lines = lines(dir.resolve("on"));
        assertEquals(8, lines.get(0).get("step").asInt(), "steps count on from the network's own 8 iterations");
        assertEquals(List.of(9, 12, 15), lines.subList(1, lines.size()).stream().map(l -> l.get("step").asInt())
                .toList(), "every third of steps 9 to 16");
        assertEquals(List.of(1, 1, 2), lines.subList(1, lines.size()).stream().map(l -> l.get("epoch").asInt())
                .toList(), "4 steps an epoch");
        assertTrue(net.getListeners().isEmpty(), "the network's listeners as they were");
    }

    @Test
    void aLineCutShortByAKillIsEndedBeforeTheNextRunWrites() throws Exception {
        Path run = dir.resolve("cut");
        Files.createDirectories(run);
        Files.writeString(run.resolve(StatsRecorder.FILE), "{\"type\":\"start\",\"step\":0}\n{\"step\":3,\"lo");
        LoopSettings one = new LoopSettings(1, LrSchedule.CONSTANT, Monitor.ACCURACY, 0, 1);
        TrainingLoop.builder(network(), new ListDataSetIterator<>(batches(4), 16)).settings(one).statsEvery(2)
                .runDirectory(run).console(quiet).build().run();
        List<String> text = Files.readAllLines(run.resolve(StatsRecorder.FILE));
        assertEquals("{\"step\":3,\"lo", text.get(1), "the cut line stays alone on its line");
        JsonNode start = Configs.json().readTree(text.get(2));
        assertEquals("start", start.get("type").asText(), "this run's start line is whole: " + text);
        assertEquals(List.of(2, 4), text.subList(3, text.size()).stream().map(l -> {
            try {
                return Configs.json().readTree(l).get("step").asInt();
            } catch (IOException e) {
                throw new AssertionError(l, e);
            }
        }).toList());
    }

    @Test
    void withWorkersItRecordsTheAveragedNetwork() throws Exception {
        MultiLayerNetwork net = network();
        LoopSettings twoWorkers = new LoopSettings(1, LrSchedule.CONSTANT, Monitor.ACCURACY, 0, 2);
        TrainingLoop.Result result = TrainingLoop.builder(net, new ListDataSetIterator<>(batches(12), 16))
                .settings(twoWorkers).statsEvery(4).runDirectory(dir.resolve("workers")).console(quiet).build().run();
        assertEquals(TrainingLoop.Status.COMPLETED, result.status(), result.message());
        List<JsonNode> lines = lines(dir.resolve("workers"));
        assertEquals(2, lines.get(0).get("workers").asInt());
        assertTrue(lines.size() >= 3, "lines: " + lines);
        for (JsonNode line : lines.subList(1, lines.size())) {
            for (JsonNode layer : line.get("layers")) {
                JsonNode update = layer.get("update");
                assertNotNull(update);
                assertTrue(update.isNumber() && update.asDouble() > 0, "an averaged step changed " + layer);
            }
        }
    }
}
