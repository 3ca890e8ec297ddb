package org.zoo4j.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import javax.imageio.ImageIO;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.zoo4j.Zoo;
import org.zoo4j.base.Configs;
import org.zoo4j.cli.Main;
import org.zoo4j.data.DataConfig;
import org.zoo4j.data.DataPipeline;
import org.zoo4j.data.NormalizationMode;
import org.zoo4j.modelfile.EpochMetrics;
import org.zoo4j.modelfile.ModelFile;
import org.zoo4j.recipe.LrSchedule;
import org.zoo4j.recipe.TrainingRecipe;
import org.zoo4j.runtime.LayerHelpers;
import org.zoo4j.runtime.OwnGradientUpdater;
import org.zoo4j.zoo.UpdaterSpec;

class TrainerTest {
    @TempDir
    Path dir;

    private final ByteArrayOutputStream console = new ByteArrayOutputStream();
    private final PrintStream out = new PrintStream(console, true, StandardCharsets.UTF_8);

    /** LeNet-5 on a stratified Fashion-MNIST subset: small enough for a test, big enough to learn. */
    static TrainingRecipe small(int subset, int epochs) {
        DataConfig data = DataConfig.of("fashion-mnist").withSubset(subset).withBatchSize(32).withDownload(false);
        return TrainingRecipe.defaults().withData(data).withEpochs(epochs).with(Map.of("schedule.type", "constant",
                "overrides.updater.learningRate", "0.001"));
    }

    @Test
    void oneShortEpochOfLeNetLearnsFarAboveChanceAndFillsTheRunDirectory() throws Exception {
        TrainingRecipe recipe = small(2000, 1);
        Path run = dir.resolve("run");
        TrainingLoop.Result result;
        INDArray before;
        INDArray features;
        try (Trainer trainer = Trainer.start(recipe, run, out)) {
            result = trainer.run();
            assertInstanceOf(OwnGradientUpdater.class, trainer.net().getUpdater(),
                    "the loop trains with zoo4j's updater (DL4J's makes fresh views of every parameter each step)");
            try (DataPipeline p = DataPipeline.open(recipe.data(), recipe.modelConfig().input())) {
                features = p.test().next().getFeatures();
            }
            before = trainer.net().outputSingle(false, features);
        }
        assertEquals(TrainingLoop.Status.COMPLETED, result.status(), console.toString());
        assertTrue(result.test().accuracy() > 0.55, "chance is 0.10; got " + result.test().accuracy());
        for (String f : List.of("recipe.yaml", "metrics.csv", "best.zip", "last.zip", "results.json", "train.log",
                "loss.png", "accuracy.png", "confusion.png")) {
            assertTrue(Files.isRegularFile(run.resolve(f)), f);
        }
        assertEquals(2, Files.readAllLines(run.resolve("metrics.csv")).size(), "header and one epoch");
        assertEquals(recipe, TrainingRecipe.read(run.resolve("recipe.yaml")), "the saved recipe runs the same run");

        // The saved model predicts what the network predicted before it was saved, and carries its metadata.
        ModelFile.Loaded loaded = ModelFile.load(run.resolve("best.zip"), false);
        assertEquals(2, LayerHelpers.convolutionLayersWithZoo4jHelper(loaded.net()), "a loaded model runs inference "
                + "with zoo4j's convolution helper on both convolutions, as training did");
        INDArray after = loaded.net().outputSingle(false, features);
        assertTrue(before.equalsWithEps(after, 1e-6), "same predictions after saving");
        assertEquals(10, loaded.labels().size());
        assertEquals("T-shirt/top", loaded.labels().get(0));
        assertEquals(recipe, loaded.recipe());
        assertNotNull(loaded.metrics());
        assertEquals(result.test().accuracy(), ((Number) loaded.metrics().get("testAccuracy")).doubleValue(), 1e-12);
        assertEquals(recipe.modelConfig().input(), loaded.preprocessing().input());
        try (var listing = Files.list(run)) {
            assertFalse(listing.anyMatch(p -> p.getFileName().toString().endsWith(".part")), "no temporary files left");
        }

        // predict on a test image saved as a PNG: it reads the preprocessing from the model file and agrees with the
        // network on the same image from the pipeline.
        INDArray raw;
        INDArray label;
        try (DataPipeline p = DataPipeline.open(recipe.data().withNormalization(NormalizationMode.NONE),
                recipe.modelConfig().input())) {
            DataSet first = p.test().next();
            raw = first.getFeatures().get(NDArrayIndex.interval(0, 1));
        }
        BufferedImage png = new BufferedImage(28, 28,
                BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 0; y < 28; y++) {
            for (int x = 0; x < 28; x++) {
                png.getRaster().setSample(x, y, 0, Math.round(raw.getFloat(0, 0, y, x)));
            }
        }
        Path image = dir.resolve("image.png");
        ImageIO.write(png, "png", image.toFile());
        INDArray expected = loaded.net().outputSingle(false, loaded.normalization().apply(raw.dup()));
        String top = loaded.labels().get(expected.argMax(1).getInt(0));
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        PrintStream stdout = System.out;
        System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
        int code;
        try {
            code = Main.run("predict", run.toString(), image.toString(), "--top", "3");
        } finally {
            System.setOut(stdout);
        }
        assertEquals(0, code);
        String[] lines = printed.toString(StandardCharsets.UTF_8).split("\n");
        assertEquals(4, lines.length, printed.toString());
        assertTrue(lines[1].trim().endsWith(top), "top label " + top + " first: " + printed);
        assertEquals(100 * expected.getDouble(0, expected.argMax(1).getInt(0)),
                Double.parseDouble(lines[1].trim().split("%")[0]), 0.02, printed.toString());

        // An unreadable image among them: the others still get their predictions, and the exit code says it.
        Path broken = Files.writeString(dir.resolve("broken.png"), "not an image");
        printed.reset();
        System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
        try {
            code = Main.run("predict", run.toString(), broken.toString(), image.toString(), "--top", "1");
        } finally {
            System.setOut(stdout);
        }
        assertEquals(2, code);
        assertTrue(printed.toString(StandardCharsets.UTF_8).contains(image + ":"), "the readable image after it: "
                + printed);
        assertEquals(0, Configs.json().readTree(run.resolve("results.json").toFile()).get("skippedImages").asInt());
    }

    @Test
    void aNaNLossStopsTheRunAndKeepsTheLastGoodCheckpoint() throws Exception {
        TrainingRecipe recipe = small(800, 3);
        Path run = dir.resolve("nan");
        TrainingLoop.Result result;
        int batches = 720 / 32 + 1;
        int[] seen = {0};
        TrainingHooks injectNaN = TrainingHooks.NONE.withBatchFilter(batch -> {
            seen[0]++;
            if (seen[0] == batches + 3) { // the third batch of the second epoch
                INDArray f = batch.getFeatures().dup();
                f.putScalar(0, Double.NaN);
                return new DataSet(f, batch.getLabels());
            }
            return batch;
        });
        try (Trainer trainer = Trainer.start(recipe, run, out, injectNaN)) {
            result = trainer.run();
        }
        assertEquals(TrainingLoop.Status.DIVERGED, result.status());
        assertEquals(1, result.epochsDone());
        assertTrue(result.message().contains("NaN") && result.message().contains("epoch 2"), result.message());
        ModelFile.Loaded checkpoint = ModelFile.load(run.resolve("last.zip"), true);
        assertEquals(1, checkpoint.state().epochsDone());
        assertFalse(checkpoint.net().params().isNaN().any(), "the checkpoint holds the good weights");
        assertEquals(2, Files.readAllLines(run.resolve("metrics.csv")).size());
        assertFalse(Files.exists(run.resolve("results.json")), "a diverged run reports no results");
    }

    @Test
    void eachBatchOfTheDataPipelineIsGivenBackOrFreedAfterItsStep() throws Exception {
        List<DataSet> taken = new ArrayList<>();
        TrainingHooks keep = TrainingHooks.NONE.withBatchFilter(batch -> {
            assertFalse(batch.getFeatures().wasClosed(), "a batch is freed after its step, not before");
            taken.add(batch);
            return batch;
        });
        try (Trainer trainer = Trainer.start(small(400, 1), dir.resolve("freed"), out, keep)) {
            assertEquals(TrainingLoop.Status.COMPLETED, trainer.run().status());
        }
        assertEquals(360 / 32 + 1, taken.size());
        Set<DataSet> distinct = Collections.newSetFromMap(new IdentityHashMap<>());
        distinct.addAll(taken.subList(0, taken.size() - 1));
        assertTrue(distinct.size() < taken.size() - 1,
                "later full batches are written into the arrays of earlier ones, given back after their step");
        DataSet last = taken.get(taken.size() - 1);
        assertEquals(360 % 32, last.numExamples());
        assertTrue(last.getFeatures().wasClosed() && last.getLabels().wasClosed(),
                "the short last batch, not taken back, is freed at once, not left for a garbage collection");
    }

    @Test
    void aBadLossInTheFirstEpochAdvisesAResumeThatStartsAgain() throws Exception {
        Path run = dir.resolve("early-nan");
        TrainingHooks nanAtBatchThree = TrainingHooks.NONE.withBatchFilter(new UnaryOperator<>() {
            int seen;

            @Override
            public DataSet apply(DataSet batch) {
                if (++seen == 3) {
                    INDArray f = batch.getFeatures().dup();
                    f.putScalar(0, Double.NaN);
                    return new DataSet(f, batch.getLabels());
                }
                return batch;
            }
        });
        TrainingLoop.Result diverged;
        try (Trainer trainer = Trainer.start(small(400, 1), run, out, nanAtBatchThree)) {
            diverged = trainer.run();
        }
        assertEquals(TrainingLoop.Status.DIVERGED, diverged.status());
        assertTrue(diverged.message().contains("no checkpoint had been written yet") && diverged.message()
                .contains("continue with ./zoo4j train --resume " + run + ", which starts the run again"),
                diverged.message());
        try (Trainer again = Trainer.resume(run, Map.of("overrides.updater.learningRate", "0.0005"), out)) {
            TrainingLoop.Result result = again.run();
            assertEquals(TrainingLoop.Status.COMPLETED, result.status(), result.message());
        }
        assertEquals(0.0005, TrainingRecipe.read(run.resolve("recipe.yaml")).modelConfig().updater().learningRate(),
                "the setting given with --resume is the run's now");
    }

    @Test
    void unreadableImagesAreCountedInTheResults() throws Exception {
        Path images = dir.resolve("images");
        Random random = new Random(5);
        for (String c : List.of("dark", "light")) {
            Files.createDirectories(images.resolve(c));
            for (int i = 0; i < 12; i++) {
                BufferedImage image = new BufferedImage(28, 28, BufferedImage.TYPE_BYTE_GRAY);
                for (int y = 0; y < 28; y++) {
                    for (int x = 0; x < 28; x++) {
                        image.getRaster().setSample(x, y, 0, (c.equals("dark") ? 30 : 200) + random.nextInt(40));
                    }
                }
                ImageIO.write(image, "png", images.resolve(c).resolve(i + ".png").toFile());
            }
        }
        Path broken = Files.writeString(images.resolve("light").resolve("broken.png"), "not an image");
        TrainingRecipe recipe = small(100, 1).with(Map.of("data.dataset", "folder:" + images,
                "data.validationFraction", "0.2", "data.testFraction", "0.2", "data.batchSize", "8"));
        Path run = dir.resolve("skipping");
        try (Trainer trainer = Trainer.start(recipe, run, out)) {
            assertEquals(TrainingLoop.Status.COMPLETED, trainer.run().status(), console.toString());
        }
        JsonNode results = Configs.json().readTree(run.resolve("results.json").toFile());
        assertEquals(1, results.get("skippedImages").asInt(), results.toString());
        assertEquals(broken.toString(), results.get("skippedFiles").get(0).asText());
    }

    @Test
    void aRunKilledMidEpochResumesFromItsLastCheckpoint() throws Exception {
        Path run = dir.resolve("killed");
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx1g", "-Dzoo4j.code=commit 1234abc", "-cp", System.getProperty("java.class.path"),
                "org.zoo4j.cli.Main", "train", "--offline",
                "--subset", "1500", "--epochs", "3", "--batch-size", "32", "--out", run.toString()));
        Process child = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(dir.resolve("child.log").toFile()).start();
        Path checkpoint = run.resolve("last.zip");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(150);
        while (!Files.exists(checkpoint) && child.isAlive() && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertTrue(Files.exists(checkpoint), "no checkpoint written: " + Files.readString(dir.resolve("child.log")));
        Thread.sleep(500); // into the next epoch, well before the run ends on a fast machine
        assertTrue(child.isAlive(), "the child finished before it could be killed");
        child.destroyForcibly(); // SIGKILL: no shutdown hook runs
        assertTrue(child.waitFor(30, TimeUnit.SECONDS));

        JsonNode start = Configs.json().readTree(run.resolve("run.json").toFile()).get("starts").get(0);
        assertEquals("./zoo4j train --offline --subset 1500 --epochs 3 --batch-size 32 --out " + run,
                start.get("command").asText(), "the command as it can be typed again");
        assertEquals("commit 1234abc", start.get("code").asText());
        assertEquals(0, start.get("epochsDoneBefore").asInt());
        assertTrue(start.get("machine").asText().contains("logical cores"), start.toString());

        ModelFile.Loaded saved = ModelFile.load(checkpoint, true);
        int epochs = saved.state().epochsDone();
        assertTrue(epochs >= 1 && epochs < 3, "killed in epoch 2 or 3, checkpoint after epoch " + epochs);
        try (Trainer resumed = Trainer.resume(run, Map.of(), out)) {
            assertEquals(epochs, resumed.state().epochsDone(), "continues with the checkpoint's epoch");
            ComputationGraph net = resumed.net();
            assertEquals(saved.net().params(), net.params(), "the resumed model is the checkpoint");
            assertEquals(saved.net().getUpdater().getStateViewArray(), net.getUpdater().getStateViewArray(),
                    "with the optimiser state");
            TrainingLoop.Result result = resumed.run();
            assertEquals(TrainingLoop.Status.COMPLETED, result.status(), console.toString());
            assertEquals(3, result.epochsDone());
        }
        List<String> rows = Files.readAllLines(run.resolve("metrics.csv"));
        assertEquals(4, rows.size(), "one line per epoch, none lost or repeated: " + rows);
        for (int e = 1; e <= 3; e++) {
            assertTrue(rows.get(e).startsWith(e + ","), rows.toString());
        }
    }

    @Test
    void ctrlCWritesACheckpointMidEpochAndTheRunResumesFromIt() throws Exception {
        Path run = dir.resolve("interrupted");
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx1g", "-cp", System.getProperty("java.class.path"), "org.zoo4j.cli.Main", "train", "--offline",
                "--subset", "3000", "--epochs", "1", "--batch-size", "16", "--out", run.toString()));
        assertFalse(sigintIgnored(), "SIGINT is ignored in this test process, and a child inherits that: its JVM then "
                + "installs no Ctrl-C handler and runs on. A shell ignores SIGINT in what it starts in the background "
                + "(cmd &): run the tests in the foreground");
        Process child = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(dir.resolve("child.log").toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(150);
        // Wait until batches are being trained (the first progress line), then press Ctrl-C: SIGINT to the JVM.
        while (child.isAlive() && System.nanoTime() < deadline
                && !Files.readString(dir.resolve("child.log")).contains("epoch 1/1 batch")) {
            Thread.sleep(20);
        }
        Thread.sleep(300);
        assertTrue(child.isAlive(), "the child ended early: " + Files.readString(dir.resolve("child.log")));
        new ProcessBuilder("kill", "-INT", Long.toString(child.pid())).start().waitFor();
        assertTrue(child.waitFor(60, TimeUnit.SECONDS), "the run did not stop on Ctrl-C");
        String log = Files.readString(dir.resolve("child.log"));
        assertEquals(130, child.exitValue(), log);
        assertTrue(log.contains("checkpoint written; continue with ./zoo4j train --resume"), log);

        ModelFile.Loaded saved = ModelFile.load(run.resolve("last.zip"), true);
        assertEquals(0, saved.state().epochsDone(), "stopped in the first epoch");
        assertTrue(saved.state().batchesDone() >= 1, "mid-epoch position kept: " + saved.state().batchesDone());
        try (Trainer resumed = Trainer.resume(run, Map.of(), out)) {
            assertEquals(saved.net().params(), resumed.net().params(), "the resumed model is the checkpoint");
            TrainingLoop.Result result = resumed.run();
            assertEquals(TrainingLoop.Status.COMPLETED, result.status(), console.toString());
            assertEquals(1, result.epochsDone());
        }
        assertEquals(2, Files.readAllLines(run.resolve("metrics.csv")).size());
    }

    /** Whether this process ignores SIGINT (bit 2 of Linux's SigIgn mask); false where /proc is not there. */
    private static boolean sigintIgnored() throws IOException {
        Path status = Path.of("/proc/self/status");
        if (!Files.isReadable(status)) {
            return false;
        }
        for (String line : Files.readAllLines(status)) {
            if (line.startsWith("SigIgn:")) {
                return (Long.parseUnsignedLong(line.substring("SigIgn:".length()).trim(), 16) & 2L) != 0;
            }
        }
        return false;
    }

    @Test
    void dataParallelTrainingWithTheWrapperLearnsAndCheckpoints() throws Exception {
        // Two CPU replicas through DL4J's ParallelWrapper: what two GPUs do on the CUDA build.
        TrainingRecipe recipe = small(2000, 1).with(Map.of("workers", "2"));
        Path run = dir.resolve("parallel");
        try (Trainer trainer = Trainer.start(recipe, run, out)) {
            TrainingLoop.Result result = trainer.run();
            assertEquals(TrainingLoop.Status.COMPLETED, result.status(), console.toString());
            assertTrue(result.test().accuracy() > 0.5, "chance is 0.10; got " + result.test().accuracy());
            EpochMetrics epoch = trainer.state().history().get(0);
            assertTrue(Double.isFinite(epoch.trainLoss()) && epoch.trainLoss() < 2.3, "mean loss " + epoch.trainLoss());
        }
        assertEquals(1, ModelFile.load(run.resolve("last.zip"), true).state().epochsDone());

        assertTrue(console.toString().contains("data-parallel: 2 workers (replicas sharing the CPU cores), each on its "
                + "own batch of 32: 64 images per averaged step"), console.toString());

        String refused = Assertions.assertThrows(IllegalArgumentException.class,
                () -> Trainer.start(small(200, 1).with(Map.of("device", "cuda")), dir.resolve("cuda"), out)).getMessage();
        assertTrue(refused.startsWith("device: cuda asked for, but this build runs ND4J on CPU"), refused);
        assertFalse(Files.exists(dir.resolve("cuda")), "nothing written for a refused run");
    }

    @Test
    void schedulesGiveTheDocumentedFactors() {
        LrSchedule step = Configs.fromYaml("type: step\nstepEpochs: 2\ngamma: 0.5", LrSchedule.class);
        assertArrayEquals(new double[] {1, 1, 0.5, 0.5, 0.25}, factors(step, 5), 1e-12);
        LrSchedule multi = Configs.fromYaml("type: multistep\nmilestones: [1, 3]", LrSchedule.class);
        assertArrayEquals(new double[] {1, 0.1, 0.1, 0.01}, factors(multi, 4), 1e-12);
        LrSchedule cosine = Configs.fromYaml("type: cosine\nwarmupEpochs: 2", LrSchedule.class);
        assertArrayEquals(new double[] {1 / 3.0, 2 / 3.0, 1, 0.5, 0}, factors(cosine, 5), 1e-12);
    }

    private static double[] factors(LrSchedule s, int epochs) {
        double[] f = new double[epochs];
        for (int e = 0; e < epochs; e++) {
            f[e] = s.factor(e, epochs);
        }
        return f;
    }

    @Test
    void everyRecipeInTrainingReadsAndDefinesItsNetwork() throws Exception {
        List<Path> recipes;
        try (var files = Files.list(Path.of("training"))) {
            recipes = files.filter(f -> f.toString().endsWith(".yaml")).sorted().toList();
        }
        assertTrue(recipes.size() >= 7, recipes.toString());
        for (Path file : recipes) {
            TrainingRecipe r = TrainingRecipe.read(file);
            long params = Zoo.get(r.model()).define(r.modelOverrides(10)).trainableParams();
            assertTrue(params > 0, file.toString());
            assertEquals(r, Configs.fromYaml(r.toYaml(), TrainingRecipe.class), file.toString());
        }
    }

    @Test
    void theDefaultRecipeIsTheLeNetRecipeFile() throws Exception {
        assertEquals(TrainingRecipe.read(Path.of("training/lenet5-fashion-mnist.yaml")), TrainingRecipe.defaults());
    }

    @Test
    void recipesRoundTripAndTakeDottedSettings() {
        TrainingRecipe recipe = TrainingRecipe.defaults().with(Map.of("epochs", "7", "data.batchSize", "16",
                "schedule.type", "cosine", "overrides.updater.learningRate", "0.01", "data.subset", "100"));
        assertEquals(7, recipe.epochs());
        assertEquals(16, recipe.data().batchSize());
        assertEquals(100, recipe.data().subset());
        assertEquals(0.01, recipe.modelConfig().updater().learningRate(), 1e-12);
        assertEquals(recipe, Configs.fromYaml(recipe.toYaml(), TrainingRecipe.class));
    }

    @Test
    void dottedModelSettingsGoInsideAMapTheRecipeAlreadyHas() throws Exception {
        TrainingRecipe recipe = TrainingRecipe.read(Path.of("training/resnet20-fashion-mnist.yaml"))
                .with(Map.of("overrides.updater.learningRate", "0.05"));
        assertEquals(Map.of("name", "nesterov", "learningRate", 0.05, "momentum", 0.9),
                recipe.overrides().get("updater"));
        assertFalse(recipe.overrides().containsKey("updater.learningRate"), recipe.overrides().toString());
        assertEquals(0.05, recipe.modelConfig().updater().learningRate(), 1e-12);
        assertEquals(UpdaterSpec.Optimizer.NESTEROV, recipe.modelConfig().updater().name());
    }
}
