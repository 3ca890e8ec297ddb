package org.zoo4j.transfer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.zoo4j.Zoo;
import org.zoo4j.base.Checksums;
import org.zoo4j.base.Configs;
import org.zoo4j.runtime.Backend;
import org.zoo4j.zoo.ModelRegistry;
import org.zoo4j.zoo.ResNet;
import org.zoo4j.zoo.WeightsManifest;

/**
 * Weight sets as part of a model's registry entry: listed per model, created by name through the download cache (a
 * server on 127.0.0.1 stands in for the host), with the head kept fresh for another class count.
 */
class PretrainedWeightsTest {
    @TempDir
    Path dir;

    private HttpServer server;
    private ModelRegistry registry;

    @BeforeEach
    void serve() throws Exception {
        Backend.init();
        byte[] tiny = Files.readAllBytes(TransferParityTest.resource("resnet18-tiny.safetensors"));
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/tiny/model.safetensors", exchange -> {
            exchange.sendResponseHeaders(200, tiny.length);
            exchange.getResponseBody().write(tiny);
            exchange.close();
        });
        server.start();
        String sha = Checksums.sha256(TransferParityTest.resource("resnet18-tiny.safetensors"));
        WeightsManifest manifest = WeightsManifest.parse("weights:\n"
                + "  tiny.seeded:\n"
                + "    model: resnet18-tiny\n"
                + "    format: safetensors\n"
                + "    file: model.safetensors\n"
                + "    mirrors: [http://127.0.0.1:" + server.getAddress().getPort() + "/tiny]\n"
                + "    sha256: " + sha + "\n"
                + "  tiny.pickle:\n"
                + "    model: resnet18-tiny\n"
                + "    format: pth\n"
                + "    file: tiny-00000000.pth\n"
                + "    mirrors: [http://127.0.0.1:1/nowhere]\n"
                + "    sha256Prefix: '00000000'\n");
        ResNet.Config tiny18 = Configs.override(ResNet.FAMILY.presets().get("resnet18"),
                Map.of("widths", "[4,8,16,32]", "input", "3,64,64", "numClasses", "10"));
        registry = new ModelRegistry(manifest);
        registry.register("resnet18-tiny", ResNet.FAMILY, tiny18, null);
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    private WeightsCache cache() {
        return new WeightsCache(dir.resolve("cache"), new PrintStream(PrintStream.nullOutputStream()));
    }

    @Test
    void theRegistryListsEachModelsWeightSets() {
        assertEquals(Set.of("tiny.seeded", "tiny.pickle"), registry.get("resnet18-tiny").weights().keySet());
        assertEquals(Set.of("resnet18.timm-tv-in1k", "resnet18.tv-imagenet1k-v1"), Zoo.get("resnet18").weights().keySet());
        assertTrue(Zoo.get("resnet32").weights().isEmpty(), "a model with no published weights");
    }

    @Test
    void aWeightSetLoadsByNameAndEqualsAnImportOfItsFile() throws Exception {
        ComputationGraph pretrained = PretrainedWeights.create(registry.get("resnet18-tiny"), Map.of(), "tiny.seeded",
                cache());
        ComputationGraph imported = registry.create("resnet18-tiny", Map.of());
        try (SafeTensors tensors = SafeTensors.open(TransferParityTest.resource("resnet18-tiny.safetensors"))) {
            WeightsImport.load(imported, tensors, WeightsImport.Options.ALL);
        }
        assertEquals(imported.params(), pretrained.params(), "every tensor, the head too");
        assertTrue(Files.isRegularFile(dir.resolve("cache/tiny.seeded/model.safetensors")), "kept in the cache");
    }

    @Test
    void anotherClassCountKeepsTheHeadFresh() throws Exception {
        ComputationGraph five = PretrainedWeights.create(registry.get("resnet18-tiny"), Map.of("numClasses", 5),
                "tiny.seeded", cache());
        ComputationGraph fresh = registry.create("resnet18-tiny", Map.of("numClasses", 5));
        ComputationGraph all = PretrainedWeights.create(registry.get("resnet18-tiny"), Map.of(), "tiny.seeded", cache());
        assertEquals(fresh.getParam("fc_W"), five.getParam("fc_W"), "the head as initialised");
        assertEquals(all.getParam("layer4.1.conv2_W"), five.getParam("layer4.1.conv2_W"), "the rest pretrained");
        assertNotEquals(fresh.getParam("layer4.1.conv2_W"), five.getParam("layer4.1.conv2_W"));
    }

    @Test
    void anUnknownSetListsTheModelsSetsAndAPickleSaysHowToConvertIt() {
        String unknown = assertThrows(IllegalArgumentException.class, () -> PretrainedWeights.create(
                registry.get("resnet18-tiny"), Map.of(), "imagenet", cache())).getMessage();
        assertTrue(unknown.contains("no weight set 'imagenet'") && unknown.contains("tiny.pickle, tiny.seeded"),
                unknown);
        String pickle = assertThrows(IllegalArgumentException.class, () -> PretrainedWeights.create(
                registry.get("resnet18-tiny"), Map.of(), "tiny.pickle", cache())).getMessage();
        assertTrue(pickle.contains("pth_to_safetensors.py") && pickle.contains(List.of("tiny.seeded").toString()),
                pickle);
    }
}
