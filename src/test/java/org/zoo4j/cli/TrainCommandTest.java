package org.zoo4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Exit codes and messages of train/eval/predict for bad input. */
class TrainCommandTest {
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

    private void assertOneLine(String expected) {
        assertTrue(err.contains(expected), err);
        assertFalse(err.contains("\tat "), "no stack trace: " + err);
    }

    @Test
    void aMissingDatasetIsAUserError() {
        assertEquals(2, run("train", "--dataset", "mnist", "--data-path", dir.resolve("none").toString(), "--offline",
                "--out", dir.resolve("run").toString()));
        assertOneLine("mnist");
        assertFalse(Files.exists(dir.resolve("run")), "no run directory for a run that could not start");
    }

    @Test
    void anUnknownModelIsAUserError() {
        assertEquals(2, run("train", "--model", "resnet7", "--out", dir.resolve("run").toString()));
        assertOneLine("unknown model 'resnet7'");
        assertFalse(Files.exists(dir.resolve("run")), "nothing written for a bad command");
    }

    @Test
    void aBadConfigKeyIsAUserError() throws Exception {
        assertEquals(2, run("train", "--set", "epochz=3", "--out", dir.resolve("run").toString()));
        assertOneLine("unknown setting 'epochz'");
        Path recipe = dir.resolve("bad.yaml");
        Files.writeString(recipe, "model: lenet5\nlearningRate: 0.1\n");
        assertEquals(2, run("train", recipe.toString()));
        assertOneLine("unknown setting 'learningRate'");
        assertEquals(2, run("train", "--set", "overrides.widht=3", "--out", dir.resolve("run").toString()));
        assertOneLine("widht");
    }

    @Test
    void evalAndPredictOfAMissingModelAreUserErrors() {
        assertEquals(2, run("eval", dir.resolve("nope.zip").toString()));
        assertOneLine("nope.zip");
        assertEquals(2, run("predict", dir.resolve("nope.zip").toString(), dir.resolve("x.png").toString()));
        assertOneLine("x.png");
    }

    @Test
    void everyCommandHasHelp() {
        for (String command : new String[] {"train", "eval", "predict", "info"}) {
            assertEquals(0, Main.run(command, "--help"), command);
        }
    }

    @Test
    void anOutThatIsNoFolderIsAOneLineError() throws Exception {
        Path file = Files.writeString(dir.resolve("file"), "x");
        assertEquals(2, run("train", "--subset", "100", "--epochs", "1", "--offline", "--out", file.toString()));
        assertOneLine("is a file, not a folder");
        assertEquals(2, run("train", "--subset", "100", "--epochs", "1", "--offline", "--out",
                file.resolve("run").toString()));
        assertOneLine("--out: cannot create or write the run directory");
        assertEquals("x", Files.readString(file), "nothing lost");
    }

    @Test
    void aRecipeErrorNamesTheFileAndTheSettingNotAJavaType() throws Exception {
        Path recipe = Files.writeString(dir.resolve("ten.yaml"), "model: lenet5\nepochs: \"ten\"\n");
        assertEquals(2, run("train", recipe.toString()));
        assertOneLine(recipe + ": epochs: expected a whole number, got 'ten'");
        assertFalse(err.contains("java.lang") || err.contains("Integer"), err);
        Path broken = Files.writeString(dir.resolve("broken.yaml"), "model: lenet5\n\tepochs: 3\n");
        assertEquals(2, run("train", broken.toString()));
        assertOneLine(broken + ": not valid YAML or JSON at line");
    }
}
