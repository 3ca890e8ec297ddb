package org.zoo4j.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicReference;
import javax.imageio.ImageIO;
import org.datavec.api.io.labels.ParentPathLabelGenerator;
import org.datavec.api.split.FileSplit;
import org.datavec.image.recordreader.ImageRecordReader;
import org.datavec.image.transform.FlipImageTransform;
import org.datavec.image.transform.ImageTransform;
import org.datavec.image.transform.PipelineImageTransform;
import org.deeplearning4j.datasets.datavec.RecordReaderDataSetIterator;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.dataset.api.DataSetPreProcessor;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.dataset.api.preprocessor.ImagePreProcessingScaler;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.zoo4j.base.Configs;
import org.zoo4j.modelfile.ModelFile;
import org.zoo4j.recipe.LoopSettings;
import org.zoo4j.recipe.LrSchedule;
import org.zoo4j.recipe.Monitor;
import org.zoo4j.runtime.Backend;

/**
 * The epoch loop as a library: a DL4J user's own MultiLayerNetwork on their own DataVec pipeline (an image folder read
 * by ImageRecordReader with a DataVec transform), with checkpoints, metrics, plots, schedule, Ctrl-C and resume.
 */
class TrainingLoopTest {
    private static final String[] CLASSES = {"bottom", "middle", "top"};
    private static final int SIDE = 16;

    @TempDir
    static Path images;

    @TempDir
    Path dir;

    private final PrintStream quiet = new PrintStream(PrintStream.nullOutputStream());

    /** 60 training and 30 test PNGs per class: a bright horizontal band at the bottom, middle or top, on noise. */
    @BeforeAll
    static void writeImages() throws IOException {
        Backend.init();
        Random random = new Random(3);
        for (String split : new String[] {"train", "test"}) {
            for (int c = 0; c < CLASSES.length; c++) {
                Path folder = Files.createDirectories(images.resolve(split).resolve(CLASSES[c]));
                for (int i = 0; i < (split.equals("train") ? 60 : 30); i++) {
                    BufferedImage img = new BufferedImage(SIDE, SIDE, BufferedImage.TYPE_BYTE_GRAY);
                    for (int y = 0; y < SIDE; y++) {
                        for (int x = 0; x < SIDE; x++) {
                            boolean band = switch (c) {
                                case 0 -> y >= 11;
                                case 1 -> y >= 6 && y <= 9;
                                default -> y <= 4;
                            };
                            int v = (band ? 170 : 40) + random.nextInt(60);
                            img.getRaster().setSample(x, y, 0, v);
                        }
                    }
                    ImageIO.write(img, "png", folder.resolve(i + ".png").toFile());
                }
            }
        }
    }

    /** The user's pipeline: ImageRecordReader over a class-per-folder tree, scaled to [0, 1]. */
    private static DataSetIterator folder(String split, ImageTransform transform) throws IOException {
        ImageRecordReader reader = new ImageRecordReader(SIDE, SIDE, 1, new ParentPathLabelGenerator(), transform);
        reader.initialize(new FileSplit(images.resolve(split).toFile(), new String[] {"png"}, new Random(7)));
        DataSetIterator it = new RecordReaderDataSetIterator(reader, 16, 1, CLASSES.length);
        it.setPreProcessor(new ImagePreProcessingScaler(0, 1));
        return it;
    }

    /** Training data with a seeded DataVec augmentation: a horizontal flip half the time (bands stay where they are). */
    private static DataSetIterator training() throws IOException {
        ImageTransform flip = new PipelineImageTransform(11, List.of(new Pair<>(new FlipImageTransform(1), 0.5)), false);
        return folder("train", flip);
    }

    private static MultiLayerNetwork network() {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(5).updater(new Adam(0.01))
                .weightInit(WeightInit.XAVIER).list()
                .layer(new ConvolutionLayer.Builder(3, 3).nOut(4).activation(Activation.RELU).build())
                .layer(new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX).kernelSize(2, 2).stride(2, 2)
                        .build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(CLASSES.length)
                        .activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutional(SIDE, SIDE, 1)).build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    private static final LoopSettings COSINE = new LoopSettings(3,
            Configs.fromYaml("type: cosine", LrSchedule.class), Monitor.ACCURACY, 0, 1);

    @Test
    void trainsAUsersDataVecPipelineWithEverythingARecipeRunGets() throws Exception {
        Path run = dir.resolve("datavec");
        // Whether DL4J's training workspace (its name in MultiLayerNetwork and ComputationGraph) is there: after each
        // epoch, and when the test reads its first batch
        List<Boolean> trainingWorkspace = new ArrayList<>();
        String name = "WS_ALL_LAYERS_ACT";
        DataSetIterator test = folder("test", null);
        DataSetPreProcessor scale = test.getPreProcessor();
        test.setPreProcessor(ds -> {
            if (trainingWorkspace.size() == 3) {
                trainingWorkspace.add(Nd4j.getWorkspaceManager().checkIfWorkspaceExists(name));
            }
            scale.preProcess(ds);
        });
        TrainingLoop.Result result = TrainingLoop.builder(network(), training()).validation(folder("test", null))
                .test(test).settings(COSINE).runDirectory(run).console(quiet)
                .hooks(TrainingHooks.NONE.withOnEpoch((m, state) -> {
                    trainingWorkspace.add(Nd4j.getWorkspaceManager().checkIfWorkspaceExists(name));
                    return null;
                })).build().run();
        assertEquals(TrainingLoop.Status.COMPLETED, result.status(), result.message());
        assertTrue(result.test().accuracy() > 0.9, "accuracy " + result.test().accuracy());
        assertEquals(List.of(CLASSES), result.test().labels(), "labels from the user's reader");
        // kept from step to step, freed before the test (whose network and activations then take its place)
        assertEquals(List.of(true, true, true, false), trainingWorkspace);
        for (String file : List.of("last.zip", "best.zip", "metrics.csv", "results.json", "train.log", "loss.png",
                "accuracy.png", "confusion.png")) {
            assertTrue(Files.isRegularFile(run.resolve(file)), file);
        }
        List<String> rows = Files.readAllLines(run.resolve("metrics.csv"));
        assertEquals(4, rows.size(), "a header and three epochs");
        double first = Double.parseDouble(rows.get(1).split(",")[1]);
        double last = Double.parseDouble(rows.get(3).split(",")[1]);
        assertEquals(0.01, first, 1e-9, "the cosine schedule starts at the network's own rate");
        assertEquals(0.0, last, 1e-9, "and ends at 0");
        // The best model is a DL4J model file that DL4J reads back, beside zoo4j's entries.
        assertEquals(MultiLayerNetwork.class, ModelFile.readNetwork(run.resolve("best.zip")).getClass());
    }

    @Test
    void aStopInTheMiddleOfAnEpochResumesAtItsStartAndEndsLikeAFullRun() throws Exception {
        Path run = dir.resolve("stopped");
        AtomicReference<TrainingLoop> running = new AtomicReference<>();
        int[] batches = {0};
        int perEpoch = (int) Math.ceil(60.0 * CLASSES.length / 16);
        TrainingHooks stopInEpochTwo = TrainingHooks.NONE.withBatchFilter(batch -> {
            if (++batches[0] == perEpoch + 3) {
                running.get().requestStop(); // Ctrl-C in the fourth batch of epoch 2
            }
            return batch;
        });
        TrainingLoop first = TrainingLoop.builder(network(), training()).validation(folder("test", null))
                .test(folder("test", null)).settings(COSINE).runDirectory(run).console(quiet).hooks(stopInEpochTwo)
                .build();
        running.set(first);
        TrainingLoop.Result stopped = first.run();
        assertEquals(TrainingLoop.Status.INTERRUPTED, stopped.status());
        assertEquals(1, stopped.epochsDone());
        assertTrue(stopped.message().contains("the checkpoint after epoch 1 is kept")
                && stopped.message().contains("trains epoch 2 from its start"), stopped.message());
        ModelFile.Checkpoint kept = ModelFile.readCheckpoint(run.resolve("last.zip"), null);
        assertEquals(1, kept.state().epochsDone());
        assertEquals(0, kept.state().batchesDone(), "a DataVec reader cannot say where it was: no mid-epoch state");
        assertEquals(COSINE, kept.loop(), "the checkpoint keeps the loop's settings");
        String epochOne = Files.readAllLines(run.resolve("metrics.csv")).get(1);

        TrainingLoop.Result resumed = TrainingLoop.resume(run, training()).validation(folder("test", null))
                .test(folder("test", null)).console(quiet).build().run();
        assertEquals(TrainingLoop.Status.COMPLETED, resumed.status(), resumed.message());
        assertEquals(3, resumed.epochsDone());
        assertTrue(resumed.test().accuracy() > 0.9, "accuracy " + resumed.test().accuracy());
        List<String> rows = Files.readAllLines(run.resolve("metrics.csv"));
        assertEquals(4, rows.size(), "epochs 1 to 3, each once");
        assertEquals(epochOne, rows.get(1), "epoch 1 as it was before the stop");
        assertEquals(0.005, Double.parseDouble(rows.get(2).split(",")[1]), 1e-9, "epoch 2 at the schedule's rate");
        Map<String, Object> results = Configs.json().readValue(run.resolve("results.json").toFile(), Map.class);
        assertEquals("completed", results.get("status"));
        assertEquals(3, results.get("epochs"));
    }

    @Test
    void aRunDirectoryIsRequired() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TrainingLoop.builder(network(), training()).build());
        assertTrue(e.getMessage().contains("runDirectory"), e.getMessage());
    }
}
