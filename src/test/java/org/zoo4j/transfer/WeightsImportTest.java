package org.zoo4j.transfer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.zoo4j.Zoo;
import org.zoo4j.runtime.Backend;

/** The import's checks: names, shapes, missing and unexpected tensors, skipping the head; the graph is untouched on error. */
class WeightsImportTest {
    static final Map<String, String> TINY_RESNET = Map.of("widths", "[4,8,16,32]", "input", "3,64,64", "numClasses", "10");

    @TempDir
    Path dir;

    @BeforeAll
    static void backend() {
        Backend.init();
    }

    static Path fixture() {
        return TransferParityTest.resource("resnet18-tiny.safetensors");
    }

    @Test
    void loadsEveryParameterAndSkipsNumBatchesTracked() throws IOException {
        ComputationGraph graph = Zoo.create("resnet18", TINY_RESNET);
        WeightsImport.Result r;
        try (SafeTensors st = SafeTensors.open(fixture())) {
            r = WeightsImport.load(graph, st, WeightsImport.Options.ALL);
            // Values land where the name says: a conv weight as is, a dense weight transposed, a bn mean as is.
            float[] conv = st.floats("layer2.0.conv1.weight");
            assertEquals(conv[5], graph.getParam("layer2.0.conv1_W").getFloat(0, 0, 1, 2), 0f); // [8,4,3,3]: index 5 = (0,0,1,2)
            float[] fc = st.floats("fc.weight"); // [10, 32]
            assertEquals(fc[3 * 32 + 7], graph.getParam("fc_W").getFloat(7, 3), 0f);
            assertEquals(st.floats("bn1.running_mean")[2], graph.getParam("bn1_mean").getFloat(2L), 0f);
            assertEquals(graph.numParams(), r.values(), "every parameter value came from the file");
        }
        assertTrue(r.skipped().stream().allMatch(s -> s.endsWith(".num_batches_tracked")), r.skipped().toString());
        long batchNorms = Arrays.stream(graph.getLayers())
                .filter(l -> l.conf().getLayer() instanceof BatchNormalization).count();
        assertTrue(batchNorms > 0);
        assertEquals(batchNorms, r.skipped().size(), "one num_batches_tracked per batch norm");
        assertTrue(r.keptLayers().isEmpty());
    }

    @Test
    void missingAndUnexpectedTensorsAreListedAndTheGraphIsUntouched() throws IOException {
        Map<String, SafeTensorsFiles.Tensor> t = SafeTensorsFiles.readAll(fixture());
        t.remove("layer3.1.bn2.running_var");
        t.remove("conv1.weight");
        t.put("layer5.0.conv1.weight", new SafeTensorsFiles.Tensor(new long[] {1}, new float[] {1}));
        Path f = dir.resolve("edited.safetensors");
        SafeTensorsFiles.writeF32(f, t);
        ComputationGraph graph = Zoo.create("resnet18", TINY_RESNET);
        INDArray before = graph.params().dup();
        WeightsImport.WeightsMismatchException e;
        try (SafeTensors st = SafeTensors.open(f)) {
            e = assertThrows(WeightsImport.WeightsMismatchException.class,
                    () -> WeightsImport.load(graph, st, WeightsImport.Options.ALL));
        }
        assertEquals(List.of("conv1.weight", "layer3.1.bn2.running_var"), e.missing().stream().sorted().toList());
        assertEquals(List.of("layer5.0.conv1.weight"), e.unexpected());
        assertTrue(e.getMessage().contains("2 missing from the file: ") && e.getMessage().contains("1 unexpected in the file: layer5.0.conv1.weight"),
                e.getMessage());
        assertEquals(before, graph.params(), "nothing written on failure");
    }

    @Test
    void aShapeMismatchNamesTheTensorAndBothShapes() throws IOException {
        ComputationGraph wider = Zoo.create("resnet18", Map.of("widths", "[8,16,32,64]", "input", "3,64,64", "numClasses", "10"));
        WeightsImport.WeightsMismatchException e;
        try (SafeTensors st = SafeTensors.open(fixture())) {
            e = assertThrows(WeightsImport.WeightsMismatchException.class,
                    () -> WeightsImport.load(wider, st, WeightsImport.Options.ALL));
        }
        assertTrue(e.mismatched().contains("layer1.0.conv1.weight is [4, 64, 3, 3] in the file but the model needs [8, 64, 3, 3]"),
                e.mismatched().toString());
        // Dense weights are reported in torch's [out, in] layout, not DL4J's.
        assertTrue(e.mismatched().contains("fc.weight is [10, 32] in the file but the model needs [10, 64]"),
                e.mismatched().toString());
    }

    @Test
    void anotherArchitectureIsRefused() throws IOException {
        ComputationGraph resnet34 = Zoo.create("resnet34", TINY_RESNET);
        try (SafeTensors st = SafeTensors.open(fixture())) {
            WeightsImport.WeightsMismatchException e = assertThrows(WeightsImport.WeightsMismatchException.class,
                    () -> WeightsImport.load(resnet34, st, WeightsImport.Options.ALL));
            assertTrue(e.missing().contains("layer3.5.conv2.weight"), e.missing().toString());
            assertTrue(e.unexpected().isEmpty());
        }
    }

    @Test
    void skippingTheHeadAllowsAnotherClassCountAndKeepsTheFreshHead() throws IOException {
        Map<String, String> fiveClasses = new LinkedHashMap<>(TINY_RESNET);
        fiveClasses.put("numClasses", "5");
        ComputationGraph graph = Zoo.create("resnet18", fiveClasses);
        INDArray freshHead = graph.getParam("fc_W").dup();
        try (SafeTensors st = SafeTensors.open(fixture())) {
            WeightsImport.WeightsMismatchException e = assertThrows(WeightsImport.WeightsMismatchException.class,
                    () -> WeightsImport.load(graph, st, WeightsImport.Options.ALL));
            assertTrue(e.mismatched().contains("fc.weight is [10, 32] in the file but the model needs [5, 32]"), e.getMessage());

            WeightsImport.Result r = WeightsImport.load(graph, st, WeightsImport.Options.WITHOUT_HEAD);
            assertEquals(List.of("fc"), r.keptLayers());
            assertTrue(r.skipped().containsAll(List.of("fc.weight", "fc.bias")), r.skipped().toString());
            assertEquals(freshHead, graph.getParam("fc_W"));
            assertEquals(st.floats("layer4.1.bn2.weight")[3], graph.getParam("layer4.1.bn2_gamma").getFloat(3L), 0f);
            assertNotEquals(0, graph.getParam("layer4.1.conv2_W").sumNumber().doubleValue());
        }
    }
}
