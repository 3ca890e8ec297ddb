package org.zoo4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.zoo4j.visual.Mosaic;

class VisualizeCommandTest {
    @TempDir
    Path dir;

    private record Result(int code, String out, String err) {
    }

    private static Result run(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            int code = Main.run(args);
            return new Result(code, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    /** A 40x30 grey PNG: a dark left half and a bright right half. */
    private Path edgeImage() throws Exception {
        BufferedImage img = new BufferedImage(40, 30, BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 0; y < 30; y++) {
            for (int x = 20; x < 40; x++) {
                img.getRaster().setSample(x, y, 0, 200);
            }
        }
        Path p = dir.resolve("edge.png");
        ImageIO.write(img, "png", p.toFile());
        return p;
    }

    private static BufferedImage read(Path png) throws Exception {
        assertTrue(Files.isRegularFile(png), png + " written");
        return ImageIO.read(png.toFile());
    }

    @Test
    void convPrintsTheShapeArithmeticAndWritesInputAndOutput() throws Exception {
        Path out = dir.resolve("c.png");
        Result r = run("visualize", "conv", edgeImage().toString(), "--kernel", "sobel-x", "--stride", "2", "--padding",
                "1", "--zoom", "4", "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("(30 - 3 + 2*1)/2 + 1 = 15"), r.out());
        assertTrue(r.out().contains("(40 - 3 + 2*1)/2 + 1 = 20"), r.out());
        BufferedImage png = read(out);
        // Two cells of the input's size (40x30 at zoom 4) with 4-pixel margins.
        assertEquals(2 * (160 + 4) + 4, png.getWidth());
        assertEquals(120 + 8, png.getHeight());
        assertTrue(Mosaic.distinctColours(png) >= 4, "not blank");

        Result bad = run("visualize", "conv", edgeImage().toString(), "--kernel", "emboss", "--out", out.toString());
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("unknown kernel 'emboss'"), bad.err());
    }

    @Test
    void filtersActivationsAndMaximizeOfAFreshLeNet() throws Exception {
        Path f = dir.resolve("f.png");
        Result r = run("visualize", "filters", "lenet5", "--layer", "conv1", "--out", f.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("fresh random weights"), "says the weights are not trained: " + r.out());
        assertTrue(Mosaic.distinctColours(read(f)) > 20);

        Path a = dir.resolve("a.png");
        r = run("visualize", "activations", "lenet5", edgeImage().toString(), "--layer", "conv1", "--out", a.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("activations of shape [6, 28, 28]"), r.out());
        assertTrue(Mosaic.distinctColours(read(a)) > 2);

        Path m = dir.resolve("m.png");
        r = run("visualize", "maximize", "lenet5", "--layer", "conv2", "--filter", "0,1", "--steps", "20", "--out",
                m.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("conv2 filter 1: mean activation"), r.out());
        BufferedImage mp = read(m);
        assertEquals(2 * (28 * 4 + 4) + 4, mp.getWidth(), "two 28x28 inputs at zoom 4");
        assertTrue(Mosaic.distinctColours(mp) > 20);
    }

    @Test
    void unknownLayerOrModelIsOneLineAndExitCode2() throws Exception {
        Path out = dir.resolve("x.png");
        Result r = run("visualize", "activations", "lenet5", edgeImage().toString(), "--layer", "features.0", "--out",
                out.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("no layer named 'features.0'") && r.err().contains("conv1, pool1"), r.err());
        assertFalse(r.err().contains("\tat "), "no stack trace");
        assertFalse(Files.exists(out));
        r = run("visualize", "filters", "no-such-model", "--layer", "conv1", "--out", out.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("neither a model file"), r.err());
    }
}
