package org.zoo4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.zoo4j.base.InputShape;
import org.zoo4j.runtime.Backend;

/**
 * Images that OpenCV alone would get wrong, read right or refused: 16-bit PNGs scaled to 0-255 (alone or mixed with
 * 8-bit ones), transparency composited over black, palettes, a JPEG's EXIF orientation, a class with no readable image.
 */
class UnusualImagesTest {
    @TempDir
    Path dir;

    @BeforeAll
    static void backend() {
        Backend.init();
    }

    private static BufferedImage grey16(int value) {
        BufferedImage image = new BufferedImage(8, 8, BufferedImage.TYPE_USHORT_GRAY);
        for (int y = 0; y < 8; y++) {
            for (int x = 0; x < 8; x++) {
                image.getRaster().setSample(x, y, 0, value);
            }
        }
        return image;
    }

    private static BufferedImage grey8(int value) {
        BufferedImage image = new BufferedImage(8, 8, BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 0; y < 8; y++) {
            for (int x = 0; x < 8; x++) {
                image.getRaster().setSample(x, y, 0, value);
            }
        }
        return image;
    }

    private Path png(String name, BufferedImage image) throws IOException {
        Path file = dir.resolve(name);
        Files.createDirectories(file.getParent());
        assertTrue(ImageIO.write(image, "png", file.toFile()), name);
        return file;
    }

    @Test
    void aSixteenBitPngReadsOnTheEightBitScale() throws IOException {
        INDArray dark = ImageFiles.read(png("dark16.png", grey16(1000)), InputShape.of(1, 8, 8));
        assertEquals(1000 / 257.0, dark.meanNumber().doubleValue(), 0.01, "65535 is 255");
        INDArray white = ImageFiles.read(png("white16.png", grey16(65535)), InputShape.of(3, 8, 8));
        assertEquals(255, white.minNumber().doubleValue(), 1e-3);
        assertEquals(128, ImageFiles.read(png("mid8.png", grey8(128)), InputShape.of(1, 8, 8))
                .meanNumber().doubleValue(), 1e-3, "8-bit unchanged");
    }

    @Test
    void transparencyIsCompositedOverBlack() throws IOException {
        BufferedImage rgba = new BufferedImage(8, 8, BufferedImage.TYPE_INT_ARGB);
        for (int y = 0; y < 8; y++) {
            for (int x = 0; x < 8; x++) {
                int alpha = x < 4 ? 0 : (y < 4 ? 255 : 128);
                rgba.setRGB(x, y, alpha << 24 | 0xFF0000); // red, transparent on the left, half on the bottom right
            }
        }
        INDArray read = ImageFiles.read(png("rgba.png", rgba), InputShape.of(3, 8, 8));
        assertEquals(0, read.getFloat(0, 0, 1, 1), 1e-3, "transparent: black, not the red it holds");
        assertEquals(255, read.getFloat(0, 0, 1, 6), 1e-3, "opaque red");
        assertEquals(0, read.getFloat(0, 1, 1, 6), 1e-3);
        assertEquals(128, read.getFloat(0, 0, 6, 6), 1.0, "half transparent: half the red");

        // A palette with a transparent entry (a tRNS chunk), and a plain palette, which OpenCV reads itself.
        byte[] r = {0, (byte) 255};
        byte[] g = {0, 0};
        byte[] b = {0, (byte) 255};
        byte[] a = {0, (byte) 255};
        BufferedImage palette = new BufferedImage(8, 8, BufferedImage.TYPE_BYTE_BINARY, new IndexColorModel(1, 2, r, g,
                b, a));
        BufferedImage opaque = new BufferedImage(8, 8, BufferedImage.TYPE_BYTE_BINARY, new IndexColorModel(1, 2,
                new byte[] {(byte) 255, (byte) 255}, g, b));
        for (int y = 0; y < 8; y++) {
            for (int x = 0; x < 8; x++) {
                palette.getRaster().setSample(x, y, 0, x < 4 ? 0 : 1);
                opaque.getRaster().setSample(x, y, 0, x < 4 ? 0 : 1);
            }
        }
        INDArray withAlpha = ImageFiles.read(png("palette-alpha.png", palette), InputShape.of(3, 8, 8));
        assertEquals(0, withAlpha.getFloat(0, 0, 3, 1), 1e-3, "the transparent entry");
        assertEquals(255, withAlpha.getFloat(0, 2, 3, 6), 1e-3, "magenta's blue");
        INDArray plain = ImageFiles.read(png("palette.png", opaque), InputShape.of(3, 8, 8));
        assertEquals(255, plain.getFloat(0, 0, 3, 1), 1e-3, "entry 0 is red");
        assertEquals(0, plain.getFloat(0, 2, 3, 1), 1e-3);
    }

    @Test
    void aJpegIsTurnedAsItsExifOrientationSays() throws IOException {
        // 8 wide and 4 high, black left and white right, marked "rotate 90 degrees clockwise to display".
        BufferedImage image = new BufferedImage(8, 4, BufferedImage.TYPE_3BYTE_BGR);
        for (int y = 0; y < 4; y++) {
            for (int x = 0; x < 8; x++) {
                image.setRGB(x, y, x < 4 ? 0 : 0xFFFFFF);
            }
        }
        ByteArrayOutputStream plain = new ByteArrayOutputStream();
        ImageIO.write(image, "jpg", plain);
        byte[] jpeg = plain.toByteArray();
        byte[] tiff = {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0};
        byte[] exif = {'E', 'x', 'i', 'f', 0, 0};
        int length = 2 + exif.length + tiff.length;
        ByteArrayOutputStream marked = new ByteArrayOutputStream();
        marked.write(jpeg, 0, 2); // SOI
        marked.write(new byte[] {(byte) 0xFF, (byte) 0xE1, (byte) (length >> 8), (byte) length});
        marked.write(exif);
        marked.write(tiff);
        marked.write(jpeg, 2, jpeg.length - 2);
        Path file = Files.write(dir.resolve("turned.jpg"), marked.toByteArray());
        INDArray read = ImageFiles.read(file, InputShape.of(1, 8, 4));
        assertTrue(read.getFloat(0, 0, 1, 2) < 40, "black on top after the turn: " + read);
        assertTrue(read.getFloat(0, 0, 6, 2) > 215, "white below: " + read);
    }

    @Test
    void aFolderMixingEightAndSixteenBitImagesIsNormalisedOnOneScale() throws IOException {
        for (int i = 0; i < 4; i++) {
            png("mixed/a/" + i + "-8.png", grey8(100));
            png("mixed/a/" + i + "-16.png", grey16(100 * 257));
            png("mixed/b/" + i + "-8.png", grey8(100));
            png("mixed/b/" + i + "-16.png", grey16(100 * 257));
        }
        DataConfig config = DataConfig.of("folder:" + dir.resolve("mixed")).withFractions(0, 0);
        try (DataPipeline pipeline = DataPipeline.open(config, InputShape.of(1, 8, 8))) {
            assertEquals(100 / 255.0, pipeline.normalizer().mean()[0], 1e-4, "not 80.45");
        }
    }

    @Test
    void aClassWithoutAReadableImageIsRefused() throws IOException {
        for (int i = 0; i < 3; i++) {
            png("broken/good/" + i + ".png", grey8(50 + i));
            Files.createDirectories(dir.resolve("broken/bad"));
            Files.writeString(dir.resolve("broken/bad/" + i + ".png"), "not an image");
        }
        DataConfig config = DataConfig.of("folder:" + dir.resolve("broken")).withFractions(0, 0);
        DataException e = assertThrows(DataException.class, () -> DataPipeline.open(config, InputShape.of(1, 8, 8)));
        assertTrue(e.getMessage().contains("class 'bad'") && e.getMessage().contains("none of its 3 files"),
                e.getMessage());
    }

    @Test
    void aBatchWithUnreadableImagesHoldsTheOthersEachWithItsLabel() throws IOException {
        for (int i = 0; i < 6; i++) {
            png("gaps/a/" + i + ".png", grey8(10 + i));
        }
        png("gaps/b/ok.png", grey8(200));
        for (int i = 0; i < 3; i++) {
            Files.createDirectories(dir.resolve("gaps/b"));
            Files.writeString(dir.resolve("gaps/b/" + i + ".png"), "not an image");
        }
        DataConfig config = DataConfig.of("folder:" + dir.resolve("gaps")).withFractions(0, 0).withBatchSize(16)
                .withNormalization(NormalizationMode.NONE);
        try (DataPipeline pipeline = DataPipeline.open(config, InputShape.of(1, 8, 8))) {
            ImageBatchIterator train = pipeline.train();
            DataSet batch = train.next();
            assertEquals(3, train.skippedInEpoch());
            assertArrayEquals(new long[] {7, 1, 8, 8}, batch.getFeatures().shape());
            assertArrayEquals(new long[] {7, 2}, batch.getLabels().shape());
            List<Integer> values = new ArrayList<>();
            for (int row = 0; row < 7; row++) {
                INDArray image = batch.getFeatures().get(NDArrayIndex.point(row));
                int value = image.getInt(0, 0, 0);
                assertEquals(value, image.minNumber().intValue(), "row " + row + " is one whole image");
                assertEquals(value, image.maxNumber().intValue(), "row " + row + " is one whole image");
                assertEquals(value == 200 ? 1 : 0, batch.getLabels().getRow(row).argMax().getInt(0), "row " + row);
                values.add(value);
            }
            Collections.sort(values);
            assertEquals(List.of(10, 11, 12, 13, 14, 15, 200), values);
        }
    }
}
