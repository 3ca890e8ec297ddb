package org.zoo4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.zoo4j.SameBits;
import org.zoo4j.Zoo;
import org.zoo4j.modelfile.ModelFile;
import org.zoo4j.recipe.TrainingRecipe;

/** {@code ./zoo4j finetune} end to end on small Fashion-MNIST subsets. */
class FinetuneCommandTest {
    @TempDir
    Path dir;

    private String err;

    private int run(String... args) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        picocli.CommandLine cli = Main.commandLine();
        cli.setErr(new PrintWriter(bytes, true, StandardCharsets.UTF_8));
        int code = cli.execute(args);
        err = bytes.toString(StandardCharsets.UTF_8);
        return code;
    }

    @Test
    void finetuningOnOtherClassesMakesARunWhoseFrozenLayersKeepTheirWeights() throws Exception {
        Path pretrained = dir.resolve("pretrained");
        assertEquals(0, run("train", "--subset", "400", "--epochs", "1", "--offline", "--set", "data.classes=0,1,2,3,4",
                "--out", pretrained.toString()), err);
        Path run = dir.resolve("finetuned");
        assertEquals(0, run("finetune", "--from", pretrained.toString(), "--dataset", "fashion-mnist", "--offline",
                "--subset", "400", "--epochs", "2", "--set", "data.classes=5,6,7,8,9", "--set", "data.labelFraction=0.5",
                "--freeze-until", "conv2", "--head-lr", "0.005", "--out", run.toString()), err);
        for (String f : List.of("recipe.yaml", "metrics.csv", "best.zip", "last.zip", "results.json", "accuracy.png")) {
            assertTrue(Files.isRegularFile(run.resolve(f)), f);
        }
        TrainingRecipe recipe = TrainingRecipe.read(run.resolve("recipe.yaml"));
        assertNotNull(recipe.finetune());
        assertEquals("conv2", recipe.finetune().freezeUntil());
        assertEquals(0.005, recipe.finetune().headLearningRate());
        assertEquals(List.of(5, 6, 7, 8, 9), recipe.data().classes());

        ModelFile.Loaded before = Zoo.load(pretrained);
        ModelFile.Loaded after = Zoo.load(run);
        assertEquals(List.of("Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"), after.labels());
        assertEquals(List.of("Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"), after.card().labels());
        assertEquals(ModelFile.resolve(pretrained).toString(), after.card().finetunedFrom());
        assertEquals(before.normalization(), after.normalization(), "the source model's normaliser, kept");
        ComputationGraph a = before.net();
        ComputationGraph b = after.net();
        for (String key : List.of("conv1_W", "conv1_b", "conv2_W", "conv2_b")) {
            assertTrue(SameBits.same(a.getParam(key), b.getParam(key)),
                    key + " is frozen: bit-for-bit equal after training");
        }
        assertFalse(a.getParam("fc1_W").equals(b.getParam("fc1_W")), "fc1 trains");
        assertEquals(5, b.getParam("fc3_b").length(), "a new 5-class head");
        double base = recipe.modelConfig().updater().learningRate();
        assertEquals(0.005 / base, b.getLearningRate("fc3") / b.getLearningRate("fc1"), 1e-9,
                "the head keeps its own rate through the schedule");

        // The run is an ordinary run: --resume continues it.
        assertEquals(0, run("train", "--resume", run.toString(), "--set", "epochs=3"), err);
        assertEquals(4, Files.readAllLines(run.resolve("metrics.csv")).size(), "header and three epochs");
        assertTrue(SameBits.same(a.getParam("conv1_W"), Zoo.load(run.resolve("last.zip")).net().getParam("conv1_W")));
        assertEquals(before.normalization(), Zoo.load(run.resolve("last.zip")).normalization(),
                "a resumed run keeps its checkpoint's normaliser");

        // Asked to, fine-tuning fits a normaliser on the new classes' images instead.
        Path refit = dir.resolve("refit");
        assertEquals(0, run("finetune", "--from", pretrained.toString(), "--offline", "--subset", "200", "--epochs",
                "1", "--set", "data.classes=5,6,7,8,9", "--refit-normalization", "--out", refit.toString()), err);
        assertTrue(TrainingRecipe.read(refit.resolve("recipe.yaml")).finetune().refitNormalization());
        assertNotEquals(before.normalization(), Zoo.load(refit).normalization(), "fitted on classes 5-9");

        // A layer that does not exist is a user error: exit 2, the layers listed, no run directory left.
        Path bad = dir.resolve("bad");
        assertEquals(2, run("finetune", "--from", pretrained.toString(), "--offline", "--subset", "100",
                "--freeze-until", "conv7", "--out", bad.toString()), err);
        assertTrue(err.contains("conv7") && err.contains("conv1, pool1"), err);
        assertFalse(err.contains("\tat "), "one line, no stack trace: " + err);
        assertFalse(Files.exists(bad), "no run directory for a run that could not start");
    }
}
