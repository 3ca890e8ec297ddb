package org.zoo4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DataCommandTest {
    @TempDir
    Path dir;

    @Test
    void previewWritesAGridOfOriginalsBesideAugmentedSamples() throws Exception {
        Path out = dir.resolve("grid.png");
        int code = Main.run("data", "preview", "--dataset", "fashion-mnist", "--offline", "--augment",
                "rotate=15,translate=0.1,scale=0.9:1.1", "--rows", "4", "--variants", "3", "--zoom", "2", "--out",
                out.toString());
        assertEquals(0, code);
        BufferedImage grid = ImageIO.read(out.toFile());
        // 4 rows of 56-pixel tiles with 2-pixel gaps; original + 6-pixel bar + 3 augmented tiles.
        assertEquals(4 * 58 + 2, grid.getHeight());
        assertEquals(56 + 6 + 3 * 58 + 2, grid.getWidth());
        try (var listing = Files.list(dir)) {
            assertEquals(1, listing.count(), "written atomically, no temporary file left");
        }
    }

    @Test
    void aBadAugmentationStringIsAOneLineUserError() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        picocli.CommandLine cli = Main.commandLine();
        cli.setErr(new PrintWriter(err, true, StandardCharsets.UTF_8));
        int code = cli.execute("data", "preview", "--augment", "spin=3", "--out", dir.resolve("x.png").toString());
        assertEquals(2, code);
        String message = err.toString(StandardCharsets.UTF_8);
        assertTrue(message.contains("unknown step 'spin'"), message);
        assertFalse(message.contains("\tat "), "no stack trace: " + message);
        assertFalse(Files.exists(dir.resolve("x.png")));
    }
}
