package org.zoo4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.zoo4j.SameBits;
import org.zoo4j.base.InputShape;

class ImageFolderTest {
    private static final String[] CLASSES = {"cat", "dog", "fox"};

    @TempDir
    Path dir;

    private static DataConfig config(Path root) {
        return DataConfig.of("folder:" + root).withNormalization(NormalizationMode.NONE).withBatchSize(8)
                .withFractions(0.2, 0.2);
    }

    @Test
    void readsPngJpegAndBmpWithLabelsFromFolderNamesInRgbOrder() throws IOException {
        Fixtures.imageFolder(dir, CLASSES, 10);
        Files.writeString(dir.resolve("cat").resolve("notes.txt"), "not an image, ignored");
        try (DataPipeline p = DataPipeline.open(config(dir), InputShape.of(3, 16, 16))) {
            assertEquals(List.of("cat", "dog", "fox"), p.labels());
            assertEquals(6, p.testSize(), "20% of 30");
            assertEquals(5, p.validationSize(), "20% of the 24 left");
            assertEquals(19, p.trainSize());
            int checked = 0;
            ImageBatchIterator test = p.test();
            ImageFolder source = (ImageFolder) DatasetLoader.folder(dir).trainPool();
            while (test.hasNext()) {
                DataSet b = test.next();
                for (int k = 0; k < b.numExamples(); k++) {
                    int label = b.getLabels().getRow(k).argMax().getInt(0);
                    assertTrue(label >= 0 && label < 3);
                    checked++;
                }
            }
            assertEquals(6, checked);
            // A PNG (lossless) image read through the pipeline's source has the written values, red plane first.
            int png = source.files().indexOf(dir.resolve("dog").resolve("img3.png"));
            float[] chw = new float[3 * 16 * 16];
            assertTrue(source.read(png, InputShape.of(3, 16, 16), chw, 0));
            for (int ch = 0; ch < 3; ch++) {
                assertEquals(Fixtures.pixel(3, 1, ch, 5, 7), chw[ch * 256 + 7 * 16 + 5], 0, "channel " + ch);
            }
        }
    }

    @Test
    void aSingleFileReadsAsTrainingReadsIt() throws IOException {
        // predict and visualize read single files; a channel swap there would silently hurt every colour model.
        Fixtures.imageFolder(dir, CLASSES, 4);
        ImageFolder source = (ImageFolder) DatasetLoader.folder(dir).trainPool();
        Path file = dir.resolve("dog").resolve("img3.png");
        for (InputShape shape : List.of(InputShape.of(3, 16, 16), InputShape.of(1, 16, 16), InputShape.of(3, 8, 8))) {
            float[] chw = new float[shape.channels() * shape.height() * shape.width()];
            assertTrue(source.read(source.files().indexOf(file), shape, chw, 0));
            INDArray single = ImageFiles.read(file, shape);
            assertArrayEquals(new long[] {1, shape.channels(), shape.height(), shape.width()}, single.shape());
            assertArrayEquals(chw, single.data().asFloat(), 0f, shape.toString());
        }
        assertEquals(Fixtures.pixel(3, 1, 0, 5, 7), ImageFiles.read(file, InputShape.of(3, 16, 16))
                .getFloat(0, 0, 7, 5), 0, "red plane first");
        assertThrows(DataException.class, () -> ImageFiles.read(dir.resolve("cat").resolve("missing.png"),
                InputShape.of(3, 16, 16)));
        Path text = Files.writeString(dir.resolve("not-an-image.png"), "text");
        DataException e = assertThrows(DataException.class, () -> ImageFiles.read(text, InputShape.of(3, 16, 16)));
        assertTrue(e.getMessage().contains("not a decodable image"), e.getMessage());
    }

    @Test
    void convertsToGreyAndResizesToTheModelsInput() throws IOException {
        Fixtures.imageFolder(dir, CLASSES, 3);
        try (DataPipeline p = DataPipeline.open(config(dir).withFractions(0, 0), InputShape.of(1, 8, 8))) {
            DataSet b = p.train().next();
            assertArrayEquals(new long[] {8, 1, 8, 8}, b.getFeatures().shape());
            assertTrue(b.getFeatures().maxNumber().doubleValue() <= 255 && b.getFeatures().minNumber().doubleValue() >= 0);
        }
    }

    @Test
    void corruptImagesAreSkippedWithACountAndTheRunGoesOn() throws IOException {
        Fixtures.imageFolder(dir, CLASSES, 6);
        Files.write(dir.resolve("dog").resolve("broken.png"), new byte[] {(byte) 0x89, 'P', 'N', 'G', 13, 10, 26, 10, 0});
        Files.write(dir.resolve("fox").resolve("empty.jpg"), new byte[0]);
        try (DataPipeline p = DataPipeline.open(config(dir).withFractions(0, 0), InputShape.of(3, 16, 16))) {
            assertEquals(20, p.trainSize());
            ImageBatchIterator train = p.train();
            int seen = 0;
            while (train.hasNext()) {
                seen += train.next().numExamples();
            }
            assertEquals(18, seen);
            assertEquals(2, train.skippedInEpoch());
            assertEquals(2, p.skippedImages());
            assertEquals(List.of(dir.resolve("dog").resolve("broken.png"), dir.resolve("fox").resolve("empty.jpg")),
                    p.skippedFiles());
            train.reset();
            seen = 0;
            while (train.hasNext()) {
                seen += train.next().numExamples();
            }
            assertEquals(18, seen, "the next epoch goes on the same way");
            assertEquals(2, train.skippedInEpoch(), "counted per epoch");
        }
    }

    @Test
    void batchesBuiltInArraysThatHeldOtherBatchesAreTheBatchesBuiltAfresh() throws IOException {
        Fixtures.imageFolder(dir, CLASSES, 6);
        Files.write(dir.resolve("dog").resolve("broken.png"), new byte[] {(byte) 0x89, 'P', 'N', 'G', 13, 10, 26, 10, 0});
        InputShape shape = InputShape.of(3, 16, 16);
        // 19 images in batches of 8: the last one short, one with an unreadable image; epochs in turn on one
        // iterator, so most batches are written into arrays that held another batch of either epoch.
        DataConfig c = config(dir).withFractions(0, 0).withBatchSize(8);
        try (DataPipeline p = DataPipeline.open(c, shape)) {
            ImageBatchIterator train = p.train();
            assertEquals(3, train.numBatches());
            for (int epoch : new int[] {0, 1, 0}) {
                train.setEpoch(epoch);
                for (int b = 0; train.hasNext(); b++) {
                    DataSet reused = train.next();
                    try (DataPipeline fresh = DataPipeline.open(c, shape)) {
                        DataSet first = fresh.train().batch(epoch, b); // that pipeline's first build: a new array
                        assertTrue(SameBits.same(first.getFeatures(), reused.getFeatures()), "epoch " + epoch
                                + ", batch " + b);
                        assertEquals(first.getLabels(), reused.getLabels());
                    }
                }
            }
        }
    }

    @Test
    void emptyClassFolderAndUnknownTestClassAreErrorsNamingTheFolder() throws IOException {
        Fixtures.imageFolder(dir.resolve("a"), CLASSES, 2);
        Files.createDirectories(dir.resolve("a").resolve("empty-class"));
        DataException empty = assertThrows(DataException.class,
                () -> DataPipeline.open(config(dir.resolve("a")), InputShape.of(3, 16, 16)));
        assertTrue(empty.getMessage().contains(dir.resolve("a").resolve("empty-class").toString())
                && empty.getMessage().contains("no images"), empty.getMessage());

        Fixtures.imageFolder(dir.resolve("b").resolve("train"), CLASSES, 2);
        Fixtures.imageFolder(dir.resolve("b").resolve("test"), new String[] {"cat", "wolf"}, 2);
        DataException outside = assertThrows(DataException.class,
                () -> DataPipeline.open(config(dir.resolve("b")), InputShape.of(3, 16, 16)));
        assertTrue(outside.getMessage().contains(dir.resolve("b").resolve("test").resolve("wolf").toString())
                && outside.getMessage().contains("not in the class list"), outside.getMessage());

        DataException missing = assertThrows(DataException.class,
                () -> DataPipeline.open(config(dir.resolve("nope")), InputShape.of(3, 16, 16)));
        assertTrue(missing.getMessage().contains("no such folder"), missing.getMessage());
    }

    @Test
    void trainAndTestSubFoldersAreUsedAsGiven() throws IOException {
        Fixtures.imageFolder(dir.resolve("train"), CLASSES, 5);
        Fixtures.imageFolder(dir.resolve("test"), CLASSES, 2);
        try (DataPipeline p = DataPipeline.open(config(dir).withFractions(0.2, 0.5), InputShape.of(3, 16, 16))) {
            assertEquals(6, p.testSize(), "test/ is the test split; testFraction is not used");
            assertEquals(3, p.validationSize());
            assertEquals(12, p.trainSize());
        }
    }

    @Test
    void augmentationGivesTheSameResultOnFilesAndOnInMemoryArrays() throws IOException {
        // The same grey pictures as PNG files and as an in-memory array.
        int n = 6;
        byte[] pixels = new byte[n * 20 * 20];
        int[] labels = new int[n];
        Path cls = Files.createDirectories(dir.resolve("only"));
        List<Path> files = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            BufferedImage img = new BufferedImage(20, 20,
                    BufferedImage.TYPE_BYTE_GRAY);
            for (int y = 0; y < 20; y++) {
                for (int x = 0; x < 20; x++) {
                    int v = (x > 4 && x < 12 && y > 3 && y < 16) ? 40 * i + 3 * x + y : 0;
                    img.getRaster().setSample(x, y, 0, v);
                    pixels[i * 400 + y * 20 + x] = (byte) v;
                }
            }
            Path f = cls.resolve("p" + i + ".png");
            ImageIO.write(img, "png", f.toFile());
            files.add(f);
        }
        InputShape shape = InputShape.of(1, 20, 20);
        Set<Path> bad = ConcurrentHashMap.newKeySet();
        ImageFolder folder = new ImageFolder("f", List.of("only"), files, labels, bad);
        ImageArray array = new ImageArray("a", shape, pixels, labels);
        Augmenter augmenter = new Augmenter(AugmentConfig.parse("rotate=20,translate=0.1,scale=0.8:1.2,flip=0.5,crop=2"));
        SplittableRandom rng = new SplittableRandom(99);
        for (int i = 0; i < n; i++) {
            Augmenter.Params params = augmenter.sample(rng, 20, 20);
            float[] fromFile = new float[400];
            float[] fromArray = new float[400];
            assertTrue(folder.read(i, shape, fromFile, 0));
            assertTrue(array.read(i, shape, fromArray, 0));
            assertArrayEquals(fromArray, fromFile, 0, "decoded file equals the array");
            float[] a = new float[400];
            float[] b = new float[400];
            Augmenter.apply(params, fromFile, 0, a, 0, 1, 20, 20);
            Augmenter.apply(params, fromArray, 0, b, 0, 1, 20, 20);
            assertArrayEquals(b, a, 0);
        }
    }
}
