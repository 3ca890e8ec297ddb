package org.zoo4j.modelfile;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.bytedeco.javacpp.Pointer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Nesterovs;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/** zoo4j's writer of DL4J's zip: what DL4J's ModelSerializer writes, without copying the parameters first. */
class Dl4jZipTest {
    @TempDir
    Path dir;

    @Test
    void writesTheEntriesModelSerializerWritesWithTheSameBytes() throws IOException {
        ComputationGraph graph = ModelFileRestoreTest.trained(DataType.FLOAT);
        MultiLayerNetwork mln = multiLayer();
        for (Model net : new Model[] {graph, mln}) {
            for (boolean withUpdater : new boolean[] {true, false}) {
                String name = net.getClass().getSimpleName() + "-" + withUpdater;
                Path ours = dir.resolve("ours-" + name + ".zip");
                Path dl4j = dir.resolve("dl4j-" + name + ".zip");
                Dl4jZip.write(net, ours, withUpdater);
                ModelSerializer.writeModel(net, dl4j.toFile(), withUpdater);
                Map<String, byte[]> expected = entries(dl4j);
                Map<String, byte[]> actual = entries(ours);
                assertEquals(expected.keySet(), actual.keySet(), net.getClass().getSimpleName());
                assertEquals(withUpdater, actual.containsKey("updaterState.bin"));
                assertEquals(ZipEntry.STORED, method(ours, "coefficients.bin"), "the arrays are stored uncompressed");
                for (String entry : expected.keySet()) {
                    assertArrayEquals(expected.get(entry), actual.get(entry), name + ": " + entry);
                }
            }
        }
        ComputationGraph read = ModelSerializer.restoreComputationGraph(
                dir.resolve("ours-ComputationGraph-true.zip").toFile(), true);
        assertEquals(graph.params(), read.params());
        assertEquals(graph.getUpdater().getStateViewArray(), read.getUpdater().getStateViewArray());
    }

    @Test
    void aModelFileKeepsTheArraysStoredWhenItsEntriesAreAddedAndReplaced() throws IOException {
        ComputationGraph net = ModelFileRestoreTest.trained(DataType.FLOAT);
        Path file = dir.resolve("model.zip");
        ModelFile.save(file, net, true, Map.of("zoo4j/a.json", "{}"));
        ModelFile.putEntries(file, Map.of("zoo4j/a.json", "{\"b\":1}"));
        assertEquals(ZipEntry.STORED, method(file, "coefficients.bin"));
        assertEquals(ZipEntry.STORED, method(file, "updaterState.bin"));
        ComputationGraph read = ModelSerializer.restoreComputationGraph(file.toFile(), true);
        assertEquals(net.params(), read.params());
        assertEquals(net.getUpdater().getStateViewArray(), read.getUpdater().getStateViewArray());
    }

    @Test
    void writesTheParametersFromTheirOwnBufferWithoutACopy() throws IOException {
        ComputationGraph net = ModelFileRestoreTest.trained(DataType.FLOAT);
        INDArray params = net.params();
        assertTrue(params.isView(), "a network's parameters are a view of its flat buffer (what Nd4j.write copies)");
        INDArray whole = Dl4jZip.withoutCopy(params);
        assertFalse(whole.isView());
        assertEquals(params.data().addressPointer().address(), whole.data().addressPointer().address());
        assertArrayEquals(params.shape(), whole.shape());

        // A graph's parameters, as the trainer's networks are: 32 MB, so that a copy shows in the resident set
        ComputationGraph big = new ComputationGraph(new NeuralNetConfiguration.Builder().seed(3).graphBuilder()
                .addInputs("in")
                .addLayer("dense", new DenseLayer.Builder().nIn(2048).nOut(4096).activation(Activation.RELU).build(),
                        "in")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(4096).nOut(4)
                        .activation(Activation.SOFTMAX).build(), "dense")
                .setOutputs("out").build());
        big.init();
        assertTrue(big.params().isView());
        long paramBytes = big.params().length() * Float.BYTES;
        long before = Pointer.physicalBytes();
        Dl4jZip.write(big, dir.resolve("big.zip"), false);
        long grown = Pointer.physicalBytes() - before; // a copy is held until the garbage collector frees it
        assertTrue(grown < paramBytes / 2, "the resident set grew by " + grown + " bytes writing " + paramBytes
                + " bytes of parameters");
    }

    private static MultiLayerNetwork multiLayer() {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(3).updater(new Nesterovs(0.01, 0.9))
                .list()
                .layer(new DenseLayer.Builder().nIn(256).nOut(512).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(512).nOut(4)
                        .activation(Activation.SOFTMAX).build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        Nd4j.getRandom().setSeed(4);
        INDArray labels = Nd4j.zeros(DataType.FLOAT, 16, 4);
        for (int i = 0; i < 16; i++) {
            labels.putScalar(i, i % 4, 1.0);
        }
        net.fit(Nd4j.rand(DataType.FLOAT, 16, 256), labels); // momentum state that is not all zeros
        return net;
    }

    private static int method(Path zip, String entry) throws IOException {
        try (ZipFile file = new ZipFile(zip.toFile())) {
            return file.getEntry(entry).getMethod();
        }
    }

    private static Map<String, byte[]> entries(Path zip) throws IOException {
        Map<String, byte[]> out = new LinkedHashMap<>();
        try (ZipFile file = new ZipFile(zip.toFile())) {
            for (ZipEntry entry : Collections.list(file.entries())) {
                try (InputStream in = file.getInputStream(entry)) {
                    out.put(entry.getName(), in.readAllBytes());
                }
            }
        }
        return out;
    }
}
