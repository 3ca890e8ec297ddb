package org.zoo4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.GZIPInputStream;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.evaluation.classification.Evaluation;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.zoo4j.SameBits;
import org.zoo4j.base.InputShape;

/**
 * On the real Fashion-MNIST as Debian's dataset-fashion-mnist installs it (CI installs the package). The cache is
 * pointed at an empty folder and downloads are off, so these tests read exactly the installed files.
 */
class FashionMnistTest {
    private static final Path DEBIAN = Path.of("/usr/share/datasets/fashion-mnist");
    private static final InputShape SHAPE = InputShape.of(1, 28, 28);
    private static final String FULL = "rotate=15,translate=0.1,scale=0.9:1.1,flip=0.5,crop=4";

    @TempDir
    static Path emptyCache;
    private static String previousCache;
    private static DatasetLoader.Loaded data;

    @BeforeAll
    static void load() {
        assertTrue(Files.isRegularFile(DEBIAN.resolve("train-images-idx3-ubyte.gz")),
                "Fashion-MNIST is not installed: sudo apt-get install dataset-fashion-mnist");
        previousCache = System.getProperty(DatasetFiles.CACHE_PROPERTY);
        System.setProperty(DatasetFiles.CACHE_PROPERTY, emptyCache.toString());
        data = DatasetLoader.load(config(), DatasetManifest.load(), null);
    }

    @AfterAll
    static void restore() {
        if (previousCache == null) {
            System.clearProperty(DatasetFiles.CACHE_PROPERTY);
        } else {
            System.setProperty(DatasetFiles.CACHE_PROPERTY, previousCache);
        }
    }

    private static DataConfig config() {
        return DataConfig.of("fashion-mnist").withDownload(false);
    }

    @Test
    void countsLabelHistogramAndPixelRange() throws IOException {
        ImageArray train = (ImageArray) data.trainPool();
        ImageArray test = (ImageArray) data.test();
        assertEquals(60_000, train.size());
        assertEquals(10_000, test.size());
        assertEquals(SHAPE, train.shape());
        int[] trainHist = new int[10];
        int[] testHist = new int[10];
        for (int l : train.labels()) {
            trainHist[l]++;
        }
        for (int l : test.labels()) {
            testHist[l]++;
        }
        int[] sixThousand = new int[10];
        int[] thousand = new int[10];
        Arrays.fill(sixThousand, 6000);
        Arrays.fill(thousand, 1000);
        assertArrayEquals(sixThousand, trainHist);
        assertArrayEquals(thousand, testHist);
        int min = 255;
        int max = 0;
        long sum = 0;
        for (byte b : train.pixels()) {
            int v = b & 0xFF;
            min = Math.min(min, v);
            max = Math.max(max, v);
            sum += v;
        }
        assertEquals(0, min);
        assertEquals(255, max);
        assertEquals(0.2860, sum / 255.0 / train.pixels().length, 1e-3, "the published mean of Fashion-MNIST");
        assertEquals(List.of("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                "Ankle boot"), data.classes());
        try (var cached = Files.list(emptyCache)) {
            assertEquals(0, cached.count(), "read from the Debian folder, nothing downloaded or copied");
        }
    }

    @Test
    void pipelineSplitsStratifiedAndStandardisesWithTheTrainingFit() {
        try (DataPipeline p = DataPipeline.open(config(), SHAPE, DatasetManifest.load(), null)) {
            assertEquals(54_000, p.trainSize());
            assertEquals(6_000, p.validationSize());
            assertEquals(10_000, p.testSize());
            Normalization n = p.normalizer();
            assertEquals(NormalizationMode.STANDARDIZE, n.mode());
            assertEquals(0.286, n.mean()[0], 2e-3);
            assertEquals(0.353, n.std()[0], 2e-3);
            int[] perClass = new int[10];
            double sum = 0;
            double squares = 0;
            long count = 0;
            ImageBatchIterator v = p.validation();
            while (v.hasNext()) {
                DataSet b = v.next();
                INDArray f = b.getFeatures();
                sum += f.sumNumber().doubleValue();
                squares += f.mul(f).sumNumber().doubleValue();
                count += f.length();
                for (int i = 0; i < b.numExamples(); i++) {
                    perClass[b.getLabels().getRow(i).argMax().getInt(0)]++;
                }
            }
            int[] sixHundred = new int[10];
            Arrays.fill(sixHundred, 600);
            assertArrayEquals(sixHundred, perClass);
            double mean = sum / count;
            assertEquals(0, mean, 0.02);
            assertEquals(1, Math.sqrt(squares / count - mean * mean), 0.02);
        }
    }

    @Test
    void aChangedFileFailsItsChecksumNamingTheFileAndTheExpectedSums(@TempDir Path copy) throws Exception {
        for (String name : List.of("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                "t10k-labels-idx1-ubyte.gz")) {
            Files.copy(DEBIAN.resolve(name), copy.resolve(name));
        }
        // The training labels, uncompressed, with one label changed (still a valid label).
        byte[] labels;
        try (var in = new GZIPInputStream(Files.newInputStream(DEBIAN.resolve("train-labels-idx1-ubyte.gz")))) {
            labels = in.readAllBytes();
        }
        labels[8 + 123] = (byte) ((labels[8 + 123] + 1) % 10);
        Path changed = copy.resolve("train-labels-idx1-ubyte");
        Files.write(changed, labels);
        DatasetManifest.FileEntry expected = DatasetManifest.load().get("fashion-mnist").file("train-labels");
        DataException e = Assertions.assertThrows(DataException.class,
                () -> DataPipeline.open(config().withPath(copy.toString()), SHAPE, DatasetManifest.load(), null));
        assertTrue(e.getMessage().startsWith(changed + ": checksum mismatch"), e.getMessage());
        assertTrue(e.getMessage().contains(expected.sha256()) && e.getMessage().contains(expected.contentSha256()),
                e.getMessage());
        assertTrue(Files.exists(changed), "the user's file is left alone");
    }

    private static List<DataSet> take(ImageBatchIterator it, int batches) {
        List<DataSet> out = new ArrayList<>();
        for (int i = 0; i < batches && it.hasNext(); i++) {
            out.add(it.next());
        }
        return out;
    }

    @Test
    void theSameSeedGivesTheSameBatchesAndEpochsReshuffle() {
        DataConfig c = config().withAugment(AugmentConfig.parse(FULL)).withSubset(2000).withBatchSize(32);
        try (DataPipeline a = DataPipeline.open(c, SHAPE, DatasetManifest.load(), null);
             DataPipeline b = DataPipeline.open(c.withWorkers(1), SHAPE, DatasetManifest.load(), null);
             DataPipeline other = DataPipeline.open(c.withSeed(7), SHAPE, DatasetManifest.load(), null)) {
            List<DataSet> first = take(a.train(), 3);
            List<DataSet> again = take(b.train(), 3);
            for (int i = 0; i < 3; i++) {
                assertEquals(first.get(i).getFeatures(), again.get(i).getFeatures(), "batch " + i);
                assertEquals(first.get(i).getLabels(), again.get(i).getLabels());
            }
            assertNotEquals(first.get(0).getFeatures(), take(other.train(), 1).get(0).getFeatures());

            ImageBatchIterator train = a.train();
            train.reset();
            assertEquals(1, train.epoch());
            DataSet epoch1 = take(train, 1).get(0);
            assertNotEquals(first.get(0).getLabels(), epoch1.getLabels(), "a new epoch reshuffles");
            train.setEpoch(0);
            assertTrue(SameBits.same(first.get(0).getFeatures(), take(train, 1).get(0).getFeatures()),
                "epoch 0 again, exactly");
            train.setEpoch(1);
            train.reset();
            train.reset();
            assertEquals(1, train.epoch(), "a reset before any batch keeps the epoch");
        }
    }

    @Test
    void evaluationDataIsNeverAugmented() {
        DataConfig plain = config().withSubset(1000).withBatchSize(50);
        try (DataPipeline augmented = DataPipeline.open(plain.withAugment(AugmentConfig.parse(FULL)), SHAPE,
                DatasetManifest.load(), null);
             DataPipeline none = DataPipeline.open(plain, SHAPE, DatasetManifest.load(), null)) {
            assertTrue(augmented.train().augments());
            assertFalse(augmented.validation().augments());
            assertFalse(augmented.test().augments());
            assertEquals(none.normalizer(), augmented.normalizer(), "the normaliser is fitted on unaugmented images");
            for (ImageBatchIterator[] pair : new ImageBatchIterator[][] {
                    {augmented.validation(), none.validation()}, {augmented.test(), none.test()}}) {
                int batches = 0;
                while (pair[1].hasNext()) {
                    assertEquals(pair[1].next().getFeatures(), pair[0].next().getFeatures());
                    batches++;
                }
                assertFalse(pair[0].hasNext());
                assertTrue(batches > 0);
            }
            DataSet a = augmented.train().next();
            DataSet n = none.train().next();
            assertEquals(n.getLabels(), a.getLabels(), "same shuffle");
            assertNotEquals(n.getFeatures(), a.getFeatures(), "training images are augmented");
        }
    }

    @Test
    void evaluationBatchesAreTheOriginalImagesInOrder() {
        DataConfig c = config().withAugment(AugmentConfig.parse(FULL)).withNormalization(NormalizationMode.SCALE);
        try (DataPipeline p = DataPipeline.open(c, SHAPE, DatasetManifest.load(), null)) {
            DataSet first = p.test().next();
            ImageArray test = (ImageArray) data.test();
            for (int k = 0; k < first.numExamples(); k++) {
                byte[] original = test.image(k);
                INDArray image = first.getFeatures().get(NDArrayIndex.point(k));
                float[] values = image.dup().data().asFloat();
                for (int i = 0; i < original.length; i++) {
                    assertEquals((original[i] & 0xFF) / 255f, values[i], 1e-6f, "test image " + k + " pixel " + i);
                }
                assertEquals(test.label(k), first.getLabels().getRow(k).argMax().getInt(0));
            }
        }
    }

    @Test
    void dl4jTrainsAndEvaluatesOnTheIterators() {
        try (DataPipeline p = DataPipeline.open(config().withSubset(1500).withBatchSize(100), SHAPE,
                DatasetManifest.load(), null)) {
            MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(1)
                    .updater(new Adam(1e-3)).list()
                    .layer(new DenseLayer.Builder().nOut(32).activation(Activation.RELU).build())
                    .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(10)
                            .activation(Activation.SOFTMAX).build())
                    .setInputType(InputType.convolutional(28, 28, 1)).build());
            net.init();
            net.fit(p.train(), 2);
            Evaluation eval = net.evaluate(p.test());
            assertEquals(1500, (int) eval.getNumRowCounter());
            assertTrue(eval.accuracy() > 0.6, "a small MLP learns Fashion-MNIST: " + eval.accuracy());
            assertTrue(p.train().epoch() >= 1, "DL4J's fit resets the iterator between epochs: " + p.train().epoch());
        }
    }
}
