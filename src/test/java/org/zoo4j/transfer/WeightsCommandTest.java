package org.zoo4j.transfer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.zoo4j.Zoo;
import org.zoo4j.base.InputShape;
import org.zoo4j.cli.Main;
import org.zoo4j.modelfile.ModelFile;

/** {@code zoo4j weights import|list} end to end: the written zip restores and reproduces torch's outputs. */
class WeightsCommandTest {
    @TempDir
    Path dir;

    private final ByteArrayOutputStream err = new ByteArrayOutputStream();
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private PrintStream oldErr;
    private PrintStream oldOut;

    @BeforeEach
    void capture() {
        oldErr = System.err;
        oldOut = System.out;
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    }

    @AfterEach
    void restore() {
        System.setErr(oldErr);
        System.setOut(oldOut);
    }

    @Test
    void importWritesAModelZipThatReproducesTorch() throws Exception {
        Path zip = dir.resolve("out/resnet50-tiny.zip");
        int rc = Main.run("weights", "import", TransferParityTest.resource("resnet50-tiny.safetensors").toString(),
                "--model", "resnet50", "--set", "widths=[4,8,16,32]", "--input", "3,64,64", "--classes", "10",
                "--out", zip.toString());
        assertEquals(0, rc, err.toString());
        assertTrue(err.toString().contains("imported "), err.toString());
        // A zoo4j model file: its card is verified on load and carries the published preprocessing.
        ModelFile.Loaded loaded = Zoo.load(zip);
        assertEquals("resnet50", loaded.card().model());
        assertEquals(10, loaded.labels().size());
        assertEquals(InputShape.of(3, 64, 64), loaded.preprocessing().input());
        assertEquals(0.485 * 255, loaded.normalization().mean()[0], 1e-9);
        assertEquals(0.225 * 255, loaded.normalization().std()[2], 1e-9);
        ComputationGraph restored = ModelSerializer.restoreComputationGraph(zip.toFile(), false);
        assertEquals(restored.params(), loaded.net().params());
        TransferParityTest.Parity p = TransferParityTest.compare(restored,
                TransferParityTest.resource("resnet50-tiny.io.safetensors"),
                TransferParityTest.resource("resnet50-tiny.out.safetensors"));
        p.assertWithin(TransferParityTest.TOLERANCE);
        try (var files = Files.list(zip.getParent())) {
            assertEquals(1, files.count(), "no temporary files left beside the zip");
        }
    }

    @Test
    void aMismatchIsOneLineAndExitCode2AndWritesNothing() {
        Path zip = dir.resolve("x.zip");
        int rc = Main.run("weights", "import", TransferParityTest.resource("resnet18-tiny.safetensors").toString(),
                "--model", "resnet18", "--input", "3,64,64", "--classes", "10", "--out", zip.toString());
        assertEquals(2, rc);
        assertTrue(err.toString().contains("wrong shape: layer1.0.conv1.weight is [4, 64, 3, 3] in the file but the model needs [64, 64, 3, 3]"),
                err.toString());
        assertFalse(Files.exists(zip));
    }

    @Test
    void aPickleIsRefusedWithTheConverterNamed() throws Exception {
        Path pth = Files.write(dir.resolve("resnet18-f37072fd.pth"), new byte[] {'P', 'K', 3, 4});
        int rc = Main.run("weights", "import", pth.toString(), "--model", "resnet18", "--out", dir.resolve("y.zip").toString());
        assertEquals(2, rc);
        assertTrue(err.toString().contains("src/main/python/pth_to_safetensors.py"), err.toString());
    }

    @Test
    void listShowsTheKnownSetsAndHowTheyAreChecked() {
        assertEquals(0, Main.run("weights", "list"));
        String text = out.toString();
        assertTrue(text.contains("resnet50.tv-imagenet1k-v1") && text.contains("sha256 prefix"), text);
        assertTrue(text.contains("resnet18.timm-tv-in1k") && text.contains("UNVERIFIED"), text);
    }

    @Test
    void pullOfAnUnknownNameListsTheKnownOnes() {
        assertEquals(2, Main.run("weights", "pull", "resnet9000"));
        assertTrue(err.toString().contains("unknown weights 'resnet9000'; known: "), err.toString());
    }
}
