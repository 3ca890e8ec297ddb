package org.zoo4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.zoo4j.base.Checksums;
import org.zoo4j.base.InputShape;

class IdxAndCifarTest {
    private static final List<String> DIGITS = List.of("0", "1", "2", "3", "4", "5", "6", "7", "8", "9");

    @TempDir
    Path dir;

    @Test
    void readsGzippedAndPlainIdxAndHashesTheContent() throws IOException {
        byte[] content = Fixtures.idx(new int[] {2, 2, 3}, new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, (byte) 255});
        Files.write(dir.resolve("a.gz"), Fixtures.gzip(content));
        Files.write(dir.resolve("a"), content);
        IdxFile gz = IdxFile.read(dir.resolve("a.gz"));
        IdxFile plain = IdxFile.read(dir.resolve("a"));
        assertArrayEquals(new int[] {2, 2, 3}, gz.dims());
        assertArrayEquals(plain.data(), gz.data());
        assertEquals((byte) 255, gz.data()[11]);
        assertEquals(plain.sha256(), gz.sha256(), "content hash is independent of compression");
        assertEquals(plain.sha256(), plain.fileSha256());
        assertEquals(Checksums.sha256(dir.resolve("a.gz")), gz.fileSha256());
    }

    @Test
    void truncatedIdxNamesTheFileAndTheExpectedSize() throws IOException {
        byte[] content = Fixtures.idx(new int[] {10, 4, 4}, new byte[160]);
        Path cut = dir.resolve("cut-images-idx3-ubyte");
        Files.write(cut, Arrays.copyOf(content, content.length - 50));
        DataException e = assertThrows(DataException.class, () -> IdxFile.read(cut));
        assertTrue(e.getMessage().contains(cut.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("truncated") && e.getMessage().contains("160 bytes"), e.getMessage());

        Path cutGz = dir.resolve("cut.gz");
        byte[] gz = Fixtures.gzip(content);
        Files.write(cutGz, Arrays.copyOf(gz, gz.length / 2));
        DataException eg = assertThrows(DataException.class, () -> IdxFile.read(cutGz));
        assertTrue(eg.getMessage().contains(cutGz.toString()) && eg.getMessage().contains("truncated"), eg.getMessage());

        Path notIdx = dir.resolve("x.gz");
        Files.write(notIdx, Fixtures.gzip("hello world".getBytes()));
        assertTrue(assertThrows(DataException.class, () -> IdxFile.read(notIdx)).getMessage().contains("not an idx file"));
    }

    @Test
    void countMismatchAndLabelOutsideTheClassListAreErrors() throws IOException {
        Files.write(dir.resolve("img"), Fixtures.idx(new int[] {3, 2, 2}, new byte[12]));
        Files.write(dir.resolve("lab"), Fixtures.idx(new int[] {4}, new byte[] {0, 1, 2, 3}));
        Files.write(dir.resolve("bad"), Fixtures.idx(new int[] {3}, new byte[] {0, 12, 1}));
        IdxFile images = IdxFile.read(dir.resolve("img"));
        DataException count = assertThrows(DataException.class,
                () -> DatasetLoader.fromIdx("t", images, IdxFile.read(dir.resolve("lab")), DIGITS));
        assertTrue(count.getMessage().contains("count mismatch") && count.getMessage().contains("3 images")
                && count.getMessage().contains("4 labels"), count.getMessage());
        DataException label = assertThrows(DataException.class,
                () -> DatasetLoader.fromIdx("t", images, IdxFile.read(dir.resolve("bad")), DIGITS));
        assertTrue(label.getMessage().contains(dir.resolve("bad").toString())
                && label.getMessage().contains("label 12 of image 1"), label.getMessage());
    }

    /** A manifest for the fixture: mnist-like idx without checksums (so fixtures pass) and cifar10 pointing nowhere. */
    static DatasetManifest fixtureManifest() throws IOException {
        return DatasetManifest.parse("""
                datasets:
                  digits:
                    format: idx
                    shape: 1,8,8
                    classes: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]
                    files:
                      train-images: {name: train-images-idx3-ubyte.gz, size: 0}
                      train-labels: {name: train-labels-idx1-ubyte.gz, size: 0}
                      test-images: {name: t10k-images-idx3-ubyte.gz, size: 0}
                      test-labels: {name: t10k-labels-idx1-ubyte.gz, size: 0}
                  cifar10:
                    format: cifar10-binary
                    shape: 3,32,32
                    classes: [airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck]
                    files:
                      archive:
                        name: cifar-10-binary.tar.gz
                        size: 1
                        sha256: "00"
                        extract: cifar-10-batches-bin
                        members:
                          cifar-10-batches-bin/data_batch_1.bin: null
                          cifar-10-batches-bin/data_batch_2.bin: null
                          cifar-10-batches-bin/data_batch_3.bin: null
                          cifar-10-batches-bin/data_batch_4.bin: null
                          cifar-10-batches-bin/data_batch_5.bin: null
                          cifar-10-batches-bin/test_batch.bin: null
                """);
    }

    @Test
    void idxPipelineSplitsStratifiedAndResizes() throws IOException {
        Fixtures.idxDataset(dir, 200, 50);
        DataConfig config = DataConfig.of("digits").withPath(dir.toString()).withNormalization(NormalizationMode.NONE)
                .withBatchSize(16).withWorkers(2);
        try (DataPipeline p = DataPipeline.open(config, InputShape.of(1, 8, 8), fixtureManifest(), null)) {
            assertEquals(180, p.trainSize());
            assertEquals(20, p.validationSize());
            assertEquals(50, p.testSize());
            int[] perClass = new int[10];
            ImageBatchIterator v = p.validation();
            while (v.hasNext()) {
                DataSet b = v.next();
                for (int i = 0; i < b.numExamples(); i++) {
                    perClass[b.getLabels().getRow(i).argMax().getInt(0)]++;
                }
            }
            assertArrayEquals(new int[] {2, 2, 2, 2, 2, 2, 2, 2, 2, 2}, perClass, "validation is stratified");
            DataSet first = p.test().next();
            // Test image 0 (class 0): pixel (x, y) = x + 2y.
            assertEquals(3 + 2 * 5, first.getFeatures().getFloat(0, 0, 5, 3), 0);
        }
        try (DataPipeline p = DataPipeline.open(config, InputShape.of(3, 16, 16), fixtureManifest(), null)) {
            DataSet first = p.test().next();
            assertArrayEquals(new long[] {16, 3, 16, 16}, first.getFeatures().shape());
            assertEquals(first.getFeatures().getFloat(0, 0, 7, 9), first.getFeatures().getFloat(0, 2, 7, 9), 0,
                    "grey is copied to every channel");
        }
    }

    @Test
    void batchesGivenBackAreWrittenIntoAndEqualFreshOnes() throws IOException {
        Fixtures.idxDataset(dir, 200, 50);
        DataConfig config = DataConfig.of("digits").withPath(dir.toString()).withBatchSize(16).withWorkers(2)
                .withAugment(AugmentConfig.parse("rotate=10,flip=0.5"));
        List<float[]> fresh = new ArrayList<>();
        try (DataPipeline p = DataPipeline.open(config, InputShape.of(1, 8, 8), fixtureManifest(), null)) {
            for (int epoch = 0; epoch < 2; epoch++) {
                ImageBatchIterator it = p.train();
                it.setEpoch(epoch);
                while (it.hasNext()) {
                    DataSet b = it.next();
                    fresh.add(b.getFeatures().data().asFloat());
                    fresh.add(b.getLabels().data().asFloat());
                }
            }
        }
        try (DataPipeline p = DataPipeline.open(config, InputShape.of(1, 8, 8), fixtureManifest(), null)) {
            ImageBatchIterator it = p.train();
            Set<INDArray> seen = Collections.newSetFromMap(new IdentityHashMap<>());
            int i = 0;
            int written = 0;
            for (int epoch = 0; epoch < 2; epoch++) {
                it.setEpoch(epoch);
                while (it.hasNext()) {
                    DataSet b = it.next();
                    assertArrayEquals(fresh.get(i++), b.getFeatures().data().asFloat(), "features of batch " + i);
                    assertArrayEquals(fresh.get(i++), b.getLabels().data().asFloat(), "labels of batch " + i);
                    if (!seen.add(b.getFeatures())) {
                        written++;
                    }
                    boolean full = b.numExamples() == 16;
                    assertEquals(full, it.recycle(b), "a full batch is taken back, the short last one is not");
                    assertFalse(it.recycle(b), "a batch is taken back once");
                }
            }
            assertTrue(written > 0, "later batches were written into the arrays of earlier ones");
            assertFalse(it.recycle(new DataSet(Nd4j.zeros(16, 1, 8, 8), Nd4j.zeros(16, 10))),
                    "a batch the iterator did not hand out is left alone");
            DataSet other = p.validation().next();
            assertFalse(it.recycle(other), "another iterator's batch is left alone");
            assertFalse(it.recycle(it.batch(0, 0)), "a batch built for a caller is the caller's");
        }
    }

    @Test
    void cifarBinaryFixtureLoadsWithLabelsAndRgbPlanes() throws IOException {
        Path bin = dir.resolve("cifar-10-batches-bin");
        Fixtures.cifarDataset(bin, 20);
        DataConfig config = DataConfig.of("cifar10").withPath(dir.toString()).withNormalization(NormalizationMode.NONE)
                .withBatchSize(20).withFractions(0.2, 0.1);
        try (DataPipeline p = DataPipeline.open(config, InputShape.of(3, 32, 32), fixtureManifest(), null)) {
            assertEquals(80, p.trainSize());
            assertEquals(20, p.validationSize());
            assertEquals(20, p.testSize());
            assertEquals("airplane", p.labels().get(0));
            DataSet test = p.test().next();
            // Test image k is overall image 100 + k, label (100 + k) mod 10.
            for (int k = 0; k < 20; k++) {
                int index = 100 + k;
                assertEquals(index % 10, test.getLabels().getRow(k).argMax().getInt(0));
                for (int ch = 0; ch < 3; ch++) {
                    assertEquals(Fixtures.pixel(index, index % 10, ch, 4, 9), test.getFeatures().getFloat(k, ch, 9, 4), 0);
                }
            }
        }
    }

    @Test
    void truncatedCifarBatchAndBadLabelAreErrorsNamingTheFile() throws IOException {
        Path bin = dir.resolve("cifar-10-batches-bin");
        Fixtures.cifarDataset(bin, 3);
        Path batch = bin.resolve("data_batch_2.bin");
        byte[] bytes = Files.readAllBytes(batch);
        Files.write(batch, Arrays.copyOf(bytes, bytes.length - 100));
        DataConfig config = DataConfig.of("cifar10").withPath(dir.toString());
        DataException e = assertThrows(DataException.class,
                () -> DataPipeline.open(config, InputShape.of(3, 32, 32), fixtureManifest(), null));
        assertTrue(e.getMessage().contains(batch.toString()) && e.getMessage().contains("3073"), e.getMessage());
        bytes[CifarBinary.RECORD_BYTES] = 10;
        Files.write(batch, bytes);
        DataException label = assertThrows(DataException.class,
                () -> DataPipeline.open(config, InputShape.of(3, 32, 32), fixtureManifest(), null));
        assertTrue(label.getMessage().contains(batch.toString()) && label.getMessage().contains("record 1 has label 10"),
                label.getMessage());
    }
}
