package org.zoo4j.transfer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.zoo4j.Zoo;
import org.zoo4j.runtime.Backend;

/**
 * Parity at the real ImageNet shapes (resnet18, resnet50, vgg16, vgg11-bn, alexnet: 1000 classes at 224x224), with random weights
 * that the fixture script writes at test time (hundreds of MB, never committed). Needs Debian's PyTorch at
 * /usr/bin/python3 and fails without it (a tier that cannot run says so). Run: {@code mvn -o test -Pslow -Dtest=FullSizeParityTest} (or with
 * {@code -Dtest.excludedGroups=}).
 */
@Tag("slow")
class FullSizeParityTest {
    static final String PYTHON = "/usr/bin/python3";

    @TempDir
    static Path dir;

    @BeforeAll
    static void generate() throws Exception {
        String install = "the slow tier compares against PyTorch: apt-get install python3-torch python3-torchvision";
        assertTrue(Files.isExecutable(Path.of(PYTHON)), PYTHON + " is not there; " + install);
        Process probe = new ProcessBuilder(PYTHON, "-c", "import torch, torchvision").redirectErrorStream(true).start();
        assertTrue(probe.waitFor(60, TimeUnit.SECONDS) && probe.exitValue() == 0, "no PyTorch for " + PYTHON + ": "
                + new String(probe.getInputStream().readAllBytes()).strip() + "; " + install);
        Path log = dir.resolve("generate.log");
        Process p = new ProcessBuilder(PYTHON, "src/test/python/make_transfer_fixtures.py", "--full", "--out", dir.toString())
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!p.waitFor(10, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new IllegalStateException("fixture script timed out");
        }
        assertEquals(0, p.exitValue(), Files.readString(log));
        Backend.init();
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"resnet18", "resnet50", "vgg16", "vgg11-bn", "alexnet"})
    void fullSizeImportMatchesTorch(String model) throws Exception {
        ComputationGraph graph = Zoo.create(model, Map.of());
        try (SafeTensors weights = SafeTensors.open(dir.resolve(model + ".safetensors"))) {
            WeightsImport.load(graph, weights, WeightsImport.Options.ALL);
        }
        TransferParityTest.Parity p = TransferParityTest.compare(graph, dir.resolve(model + ".io.safetensors"),
                dir.resolve(model + ".out.safetensors"));
        System.out.println(model + " (full size): " + p);
        p.assertWithin(TransferParityTest.TOLERANCE);
    }
}
