package org.zoo4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.zoo4j.Zoo;

class ZooCommandsTest {
    private record Result(int code, String out, String err) {
    }

    private static Result run(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            int code = Main.run(args);
            return new Result(code, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    /** The native start-up runs once per JVM, so its bad switches are checked in a JVM of their own. */
    @Test
    void aBadStartUpSwitchIsOneLineAndExitCodeTwo() throws Exception {
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Dzoo4j.nativeMalloc=keep", "-cp", System.getProperty("java.class.path"), "org.zoo4j.cli.Main", "info")
                .redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), output);
        assertEquals(2, p.exitValue(), output);
        assertTrue(output.contains("zoo4j info: zoo4j.nativeMalloc: one of release, reuse, default; got 'keep'"), output);
        assertFalse(output.contains("\tat "), "no stack trace: " + output);
    }

    @Test
    void infoNamesTheCollectorAndTheYoungGenerationTheLauncherGives() throws Exception {
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:+UseSerialGC", "-Xmn96m", "-XX:SurvivorRatio=4", "-cp", System.getProperty("java.class.path"),
                "org.zoo4j.cli.Main", "info")
                .redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), output);
        assertEquals(0, p.exitValue(), output);
        assertTrue(output.matches("(?s).*\\ngarbage collector\\s+Copy, MarkSweepCompact; young generation 96 MiB\\n.*"),
                output);
    }

    @Test
    void listShowsEveryModelWithItsPublishedCount() {
        Result r = run("list");
        assertEquals(0, r.code(), r.err());
        for (String name : Zoo.registry().names()) {
            assertTrue(r.out().lines().anyMatch(l -> l.startsWith(name + " ")), "list has " + name);
        }
        assertTrue(r.out().lines().anyMatch(l -> l.matches("resnet50\\s+resnet\\s+3,224,224\\s+1000\\s+25,557,032\\s+4\\.09 G\\s+25,557,032")),
                r.out());
    }

    @Test
    void describeShowsShapeArithmeticAndTotals() {
        Result r = run("describe", "lenet5", "--input", "1,32,32", "--classes", "10");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("(32 - 5 + 2*0)/1 + 1 = 28"), r.out());
        assertTrue(r.out().contains("flatten 16x5x5 = 400"), r.out());
        assertTrue(r.out().contains("trainable parameters: 61,706"), r.out());
    }

    @Test
    void describeReportsBatchNormStatisticsSeparately() {
        Result r = run("describe", "resnet20");
        assertTrue(r.out().contains("trainable parameters: 269,722"), r.out());
        assertTrue(r.out().contains("reference trainable parameters: 269,722 (matches)"), r.out());
        assertTrue(r.out().contains("batch-norm running means and variances"), r.out());
    }

    @Test
    void badInputIsOneLineAndExitCodeTwo() {
        Result unknown = run("describe", "resnet21");
        assertEquals(2, unknown.code());
        assertTrue(unknown.err().startsWith("zoo4j describe: unknown model 'resnet21'"), unknown.err());
        assertEquals(1, unknown.err().lines().count());
        Result small = run("describe", "vgg16", "--input", "3,8,8");
        assertEquals(2, small.code());
        assertTrue(small.err().contains("the smallest input it accepts is 3,32,32"), small.err());
    }
}
