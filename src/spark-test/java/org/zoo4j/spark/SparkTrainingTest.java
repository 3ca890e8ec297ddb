package org.zoo4j.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.zoo4j.base.Configs;
import org.zoo4j.cli.Main;
import org.zoo4j.recipe.TrainingRecipe;
import org.zoo4j.training.Trainer;
import org.zoo4j.training.TrainingLoop;

/**
 * LeNet-5 on a Fashion-MNIST subset trained through {@code ./zoo4j train --spark local[2]} (DL4J's parameter
 * averaging on two task slots in this JVM) against the same recipe trained in one process: the Spark run fills the run
 * directory the same way and its test accuracy is within a few points. Runs with {@code mvn -Pspark test}.
 */
@Tag("spark")
class SparkTrainingTest {
    /** Test accuracy may differ from the single process by this much (two workers average every few batches). */
    static final double TOLERANCE = 0.05;

    @TempDir
    Path dir;

    static List<String> train(Path run, String... more) {
        List<String> args = new ArrayList<>(List.of("train", "--offline", "--subset", "2000", "--epochs", "2",
                "--batch-size", "32", "--out", run.toString(), "--set", "schedule.type=constant",
                "--set", "overrides.updater.learningRate=0.001"));
        args.addAll(List.of(more));
        return args;
    }

    static double testAccuracy(Path run) throws Exception {
        JsonNode results = Configs.json().readTree(run.resolve("results.json").toFile());
        return results.at("/testAccuracy").asDouble(Double.NaN);
    }

    @Test
    void leNetOnLocal2LearnsAsWellAsOneProcess() throws Exception {
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        PrintStream saved = System.out;
        Path single = dir.resolve("single");
        Path spark = dir.resolve("spark");
        int singleCode;
        int sparkCode;
        try {
            System.setOut(new PrintStream(console, true, StandardCharsets.UTF_8));
            singleCode = Main.run(train(single).toArray(String[]::new));
            sparkCode = Main.run(train(spark, "--spark", "local[2]").toArray(String[]::new));
        } finally {
            System.setOut(saved);
        }
        String log = console.toString(StandardCharsets.UTF_8);
        System.out.println(log);
        assertEquals(0, singleCode, log);
        assertEquals(0, sparkCode, log);
        for (String f : List.of("recipe.yaml", "metrics.csv", "best.zip", "last.zip", "results.json", "train.log")) {
            assertTrue(Files.isRegularFile(spark.resolve(f)), f);
        }
        assertEquals(3, Files.readAllLines(spark.resolve("metrics.csv")).size(), "header and two epochs");
        TrainingRecipe recipe = TrainingRecipe.read(spark.resolve("recipe.yaml"));
        assertTrue(recipe.onSpark(), "the saved recipe trains on Spark again");
        assertEquals("local[2]", recipe.spark().master());
        assertTrue(Files.readString(spark.resolve("train.log")).contains("spark: parameter averaging"),
                Files.readString(spark.resolve("train.log")));

        double one = testAccuracy(single);
        double two = testAccuracy(spark);
        System.out.printf("test accuracy: single process %.4f, spark local[2] %.4f%n", one, two);
        assertTrue(one > 0.55, "the single process learns: " + one);
        assertTrue(Math.abs(one - two) <= TOLERANCE, "single process " + one + ", spark local[2] " + two);
    }

    /** Also: statsEvery on Spark records no per-step statistics (the executors train the steps) and the log says so. */
    @Test
    void aSparkRunContinuesOnSparkWithResume() throws Exception {
        Path run = dir.resolve("resumed");
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(console, true, StandardCharsets.UTF_8);
        PrintStream saved = System.out;
        int code;
        try {
            System.setOut(out);
            code = Main.run("train", "--offline", "--subset", "600", "--epochs", "1", "--batch-size", "32", "--out",
                    run.toString(), "--spark", "local[2]", "--set", "statsEvery=5");
        } finally {
            System.setOut(saved);
        }
        assertEquals(0, code, console.toString(StandardCharsets.UTF_8));
        try (Trainer resumed = Trainer.resume(run, Map.of("epochs", "2"), out)) {
            TrainingLoop.Result result = resumed.run();
            assertEquals(TrainingLoop.Status.COMPLETED, result.status(), console.toString(StandardCharsets.UTF_8));
            assertEquals(2, result.epochsDone());
        }
        String log = Files.readString(run.resolve("train.log"));
        assertTrue(log.contains("resuming"), log);
        assertEquals(2, log.lines().filter(l -> l.contains("spark: parameter averaging every 5 batches on local[2]"))
                        .count(),
                "the first run and the resumed one on Spark: " + log);
        assertEquals(3, Files.readAllLines(run.resolve("metrics.csv")).size(), "one line per epoch");
        assertEquals(2, log.lines().filter(l -> l.contains("statsEvery: 5 asked for, but on a cluster")).count(), log);
        assertFalse(Files.exists(run.resolve("stats.jsonl")), "no per-step statistics on Spark");
    }
}
