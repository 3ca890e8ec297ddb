package org.zoo4j.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.zoo4j.Zoo;
import org.zoo4j.base.Configs;
import org.zoo4j.base.InputShape;
import org.zoo4j.cli.Main;
import org.zoo4j.data.DataConfig;
import org.zoo4j.data.DataPipeline;

/**
 * The bad input that #19 names, each a one-line error that says what to change: a master nobody answers at (end to
 * end, exit 2, an earlier run's files untouched), a dataset the executors cannot read, and a model too large for an
 * executor's memory. A recipe that names Spark in a build without it: {@code SparkSettingsTest}.
 */
@Tag("spark")
class SparkBadInputTest {
    @TempDir
    Path dir;

    @Test
    void anUnreachableMasterIsExit2NamingItAndTheRunKeepsItsFiles() throws Exception {
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort(); // closed again: nothing listens there
        }
        Path run = dir.resolve("run");
        Files.createDirectories(run);
        Path kept = Files.writeString(run.resolve("metrics.csv"), "epoch,loss\n1,0.5\n");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream saved = System.err;
        int code;
        try {
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            code = Main.run(SparkTrainingTest.train(run, "--spark", "spark://127.0.0.1:" + port)
                    .toArray(String[]::new));
        } finally {
            System.setErr(saved);
        }
        String message = err.toString(StandardCharsets.UTF_8);
        assertEquals(2, code, message);
        assertTrue(message.contains("spark.master: no Spark master answers at 127.0.0.1:" + port), message);
        assertTrue(message.contains("correct --spark"), message);
        assertFalse(message.contains("\tat "), "one line, no stack trace: " + message);
        assertEquals("epoch,loss\n1,0.5\n", Files.readString(kept));
    }

    @Test
    void dataTheExecutorsCannotReadIsNamed() throws Exception {
        DataConfig config = Configs.fromJson("{\"dataset\": \"fashion-mnist\", \"subset\": 200, \"download\": false}",
                DataConfig.class);
        ExecutorData.Spec readable;
        try (DataPipeline data = DataPipeline.open(config, InputShape.parse("1,28,28"))) {
            readable = ExecutorData.Spec.of(data);
        }
        assertNull(ExecutorData.check(readable), "the driver's own data opens");
        Path missing = dir.resolve("not-on-this-worker");
        ObjectNode json = (ObjectNode) Configs.json().readTree(readable.dataConfig());
        json.put("path", missing.toString());
        ExecutorData.Spec elsewhere = new ExecutorData.Spec(json.toString(), readable.input(),
                readable.normalization());
        String failure = ExecutorData.check(elsewhere);
        assertNotNull(failure, "a folder this worker lacks must fail the check");
        assertTrue(failure.contains(missing.toString()), failure);
    }

    @Test
    void aModelTooLargeForAnExecutorSaysWhatToChange() {
        ComputationGraph net = Zoo.create("resnet20", Map.of("input", "3,32,32", "numClasses", 10));
        try {
            ModelMemory memory = ModelMemory.of(net, InputShape.parse("3,32,32"), 128);
            long oneTask = memory.bytesPerTask();
            assertNull(memory.check("resnet20", 2, 2 * oneTask, true), "exactly enough is enough");
            String local = memory.check("resnet20", 2, 2 * oneTask - 1, true);
            assertNotNull(local);
            assertTrue(local.startsWith("spark: resnet20 needs about "), local);
            assertTrue(local.contains("JAVA_OPTS=-Xmx8g") && local.contains("local[1]"), local);
            String cluster = memory.check("resnet20", 4, oneTask, false);
            assertNotNull(cluster);
            long gib = Math.max(1, (4 * oneTask * 5 / 4 + (1L << 30) - 1) >> 30);
            assertTrue(cluster.contains("set spark.executorMemory=" + gib + "g"), cluster);
            assertTrue(cluster.contains("spark.executorCores"), cluster);
        } finally {
            net.close();
        }
    }
}
