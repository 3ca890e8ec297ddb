package org.zoo4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.zoo4j.runtime.Backend;

class NormalizationTest {
    @TempDir
    Path dir;

    private static final Normalization RGB = Normalization.standardize(new double[] {0.5, 0.25, 0.1},
            new double[] {0.2, 0.4, 0.05});

    @Test
    void roundTripsThroughJsonAndYamlFilesWithoutJavaSerialisation() throws IOException {
        assertEquals(RGB, Normalization.fromJson(RGB.toJson()));
        assertTrue(RGB.toJson().contains("\"mode\" : \"standardize\""), RGB.toJson());
        RGB.write(dir.resolve("n.json"));
        RGB.write(dir.resolve("n.yaml"));
        assertEquals(RGB, Normalization.read(dir.resolve("n.json")));
        assertEquals(RGB, Normalization.read(dir.resolve("n.yaml")));
        assertEquals(Normalization.scale(), Normalization.fromJson(Normalization.scale().toJson()));
        assertThrows(IllegalArgumentException.class, () -> Normalization.fromJson("{\"mode\":\"standardize\"}"));
        Files.writeString(dir.resolve("bad.json"), "{\"mode\": \"standardize\", \"mean\": [1], \"std\": [1, 2]}");
        assertThrows(IllegalArgumentException.class, () -> Normalization.read(dir.resolve("bad.json")));
    }

    @Test
    void arrayAndPreProcessorAndBatchPathsAgree() {
        Backend.init();
        float[] pixels = new float[2 * 3 * 4 * 5];
        for (int i = 0; i < pixels.length; i++) {
            pixels[i] = (i * 37) % 256;
        }
        float[] fast = pixels.clone();
        RGB.apply(fast, 0, 2, 3, 20);
        INDArray array = Nd4j.create(pixels.clone(), new long[] {2, 3, 4, 5}, 'c');
        RGB.apply(array);
        assertArrayEquals(fast, array.data().asFloat(), 1e-4f);
        DataSet ds = new DataSet(Nd4j.create(pixels.clone(), new long[] {2, 3, 4, 5}, 'c'), Nd4j.zeros(DataType.FLOAT, 2, 2));
        RGB.preProcess(ds);
        assertArrayEquals(fast, ds.getFeatures().data().asFloat(), 1e-4f);
        // channel 1, pixel value v: (v/255 - 0.25) / 0.4
        assertEquals((pixels[20] / 255 - 0.25) / 0.4, fast[20], 1e-5);
        INDArray chw = Nd4j.create(Arrays.copyOf(pixels, 60), new long[] {3, 4, 5}, 'c');
        RGB.apply(chw);
        assertArrayEquals(Arrays.copyOf(fast, 60), chw.data().asFloat(), 1e-4f);
        assertThrows(IllegalArgumentException.class, () -> RGB.apply(Nd4j.zeros(DataType.FLOAT, 1, 1, 4, 4)));
        INDArray scaled = Normalization.scale().apply(Nd4j.createFromArray(new float[] {255f, 51f}));
        assertArrayEquals(new float[] {1f, 0.2f}, scaled.data().asFloat(), 1e-6f);
    }

    @Test
    void travelsInsideAModelZipAndTheRewriteKeepsTheOtherEntries() throws IOException {
        Path model = dir.resolve("model.zip");
        try (OutputStream out = Files.newOutputStream(model); ZipOutputStream zip = new ZipOutputStream(out)) {
            zip.putNextEntry(new ZipEntry("configuration.json"));
            zip.write("{\"layers\": []}".getBytes(StandardCharsets.UTF_8));
            zip.closeEntry();
        }
        assertFalse(Normalization.readFrom(model).isPresent());
        RGB.writeInto(model);
        Normalization.scale().writeInto(model);
        assertEquals(Normalization.scale(), Normalization.readFrom(model).orElseThrow(), "replaced, not duplicated");
        RGB.writeInto(model);
        assertEquals(RGB, Normalization.readFrom(model).orElseThrow());
        try (ZipFile zip = new ZipFile(model.toFile())) {
            assertEquals(2, zip.size());
            assertEquals("{\"layers\": []}", new String(zip.getInputStream(zip.getEntry("configuration.json"))
                    .readAllBytes(), StandardCharsets.UTF_8));
        }
        try (var files = Files.list(dir)) {
            assertEquals(1, files.count(), "no temporary files left");
        }
        Path notZip = dir.resolve("broken.zip");
        Files.writeString(notZip, "not a zip");
        assertThrows(IOException.class, () -> RGB.writeInto(notZip));
        assertEquals("not a zip", Files.readString(notZip), "a failed rewrite leaves the file as it was");
    }
}
