package org.zoo4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.zoo4j.bench.Measurements;
import org.zoo4j.bench.Result;
import org.zoo4j.runtime.ConvolutionRoutes;

class BenchCommandTest {
    @TempDir
    Path dir;

    private static int run(ByteArrayOutputStream err, String... args) {
        PrintStream saved = System.err;
        try {
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            return Main.run(args);
        } finally {
            System.setErr(saved);
        }
    }

    @Test
    void benchWritesOneCsvRowPerMeasurementWithPlausibleFigures() throws Exception {
        Path csv = dir.resolve("bench.csv");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(0, run(err, "bench", "--network", "lenet5", "--mode", "fit,loop,infer", "--batch", "32",
                "--warmup", "1", "--warmup-seconds", "0", "--repeats", "2", "--iterations", "3", "--csv", csv.toString()),
                err.toString());
        List<String> lines = Files.readAllLines(csv);
        assertEquals(Result.CSV_HEADER, lines.get(0));
        assertEquals(4, lines.size(), "fit, loop and infer rows: " + lines);
        for (String row : lines.subList(1, 4)) {
            String[] f = row.split(",");
            assertEquals("lenet5", f[1]);
            // as many timed runs as asked for in every row; fit and loop asked together: a fit run around each epoch
            assertEquals("2", f[5], "timed runs: " + row);
            double median = Double.parseDouble(f[6]);
            double min = Double.parseDouble(f[7]);
            double max = Double.parseDouble(f[8]);
            assertTrue(median > 0 && min <= median && median <= max, row);
            assertTrue(Double.parseDouble(f[10]) > 0, "peak resident memory: " + row);
        }
    }

    @Test
    void helpersModeTimesBothCopiesStepByStep() throws Exception {
        Path csv = dir.resolve("ab.csv");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(0, run(err, "bench", "--network", "lenet5", "--mode", "helpers", "--batch", "16", "--warmup", "1",
                "--warmup-seconds", "0", "--repeats", "2", "--iterations", "2", "--csv", csv.toString()), err.toString());
        List<String> lines = Files.readAllLines(csv);
        assertEquals(3, lines.size(), "a row for DL4J's helpers and one for zoo4j's: " + lines);
        assertEquals("ab-dl4j", lines.get(1).split(",")[2]);
        assertEquals("ab-zoo4j", lines.get(2).split(",")[2]);
        for (String row : lines.subList(1, 3)) {
            assertEquals("4", row.split(",")[5], "2 repeats x 2 iterations = 4 steps each: " + row);
            assertTrue(Double.parseDouble(row.split(",")[6]) > 0, row);
        }
    }

    @Test
    void stepsModeTimesEachStep() throws Exception {
        Path csv = dir.resolve("steps.csv");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream stdout = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        try {
            assertEquals(0, run(err, "bench", "--network", "lenet5", "--mode", "steps", "--batch", "16", "--warmup",
                    "1", "--warmup-seconds", "0", "--repeats", "3", "--iterations", "2", "--csv", csv.toString()),
                    err.toString());
        } finally {
            System.setOut(stdout);
        }
        List<String> lines = Files.readAllLines(csv);
        assertEquals(2, lines.size(), lines.toString());
        assertEquals("steps", lines.get(1).split(",")[2]);
        assertEquals("6", lines.get(1).split(",")[5], "3 repeats x 2 iterations = 6 steps: " + lines);
        assertTrue(out.toString(StandardCharsets.UTF_8).contains("of 6 steps over 3x the median"), out.toString());
        assertTrue(out.toString(StandardCharsets.UTF_8).matches("(?s).*img/s over all steps; \\d+ garbage collections "
                + "in them, [\\d,]+ ms\\R.*"), out.toString());
    }

    @Test
    void stepSpreadCountsTheSlowStepsAndTheirShare() {
        // Batch 10; steps of 10, 10, 10, 10 and 100 ms.
        Result steps = new Result("lenet5", "steps", 10, 2,
                new double[] {1000, 1000, 1000, 1000, 100}, 0, 0, 0);
        Measurements.StepSpread sp = Measurements.spread(steps);
        assertEquals(10, sp.medianMs(), 1e-9);
        assertEquals(100, sp.maxMs(), 1e-9);
        assertEquals(1, sp.slowSteps());
        assertEquals(90.0 / 140, sp.slowShare(), 1e-9, "90 ms beyond the median of 140 ms in all");
        assertEquals(50 / 0.140, sp.overallImagesPerSecond(), 1e-6, "50 images in 140 ms");
    }

    private static String stdout(ByteArrayOutputStream err, String... args) {
        PrintStream saved = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        try {
            assertEquals(0, run(err, args), err.toString());
        } finally {
            System.setOut(saved);
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    @Test
    void opsModeListsTheStepsNativeOperationsByTime() {
        String out = stdout(new ByteArrayOutputStream(), "bench", "--network", "lenet5", "--mode", "ops", "--batch",
                "128", "--warmup", "1", "--warmup-seconds", "0", "--iterations", "3");
        assertTrue(out.contains("ops, batch 128, 3 steps"), out);
        // zoo4j's oneDNN helper runs the convolutions outside ND4J's ops: its own rows, one call per layer a step.
        Matcher conv = Pattern.compile("\\s onednn forward\\s+([0-9.]+) calls ").matcher(out);
        assertTrue(conv.find(), "an onednn forward row: " + out);
        assertEquals(2.0, Double.parseDouble(conv.group(1)), 1e-9, "LeNet-5's two convolutions a step: " + out);
        assertTrue(out.contains("onednn backward_weights"), out);
        assertFalse(out.contains(" conv2d "), "no convolution left to ND4J: " + out);
    }

    @Test
    void paramsModePrintsTheCountThePyTorchPeerIsCheckedAgainst() {
        String out = stdout(new ByteArrayOutputStream(), "bench", "--network", "lenet5,resnet20", "--mode", "params");
        assertTrue(out.contains("lenet5         parameters 61,706"), out);
        assertTrue(out.contains("resnet20       parameters 273,754"), "shortcut B, and DL4J counts batch norm's running statistics: " + out);
    }

    @Test
    void opTimesAreParsedFromNd4jsProfilerLines() {
        String text = "CustomOp conv2d (7325441780195652299)  >>>  420 calls; Min: 1 ns; Max: 9 ns; Average: 5000000 ns; "
                + "Median: 2 ns; \nScalarOp relu (39)  >>>  20 calls; Min: 1 ns; Max: 2 ns; Average: 100000 ns; Median: 1 ns; \n";
        List<Measurements.OpTime> ops = Measurements.parseOpTimes(text, 20);
        assertEquals(2, ops.size(), ops.toString());
        assertEquals("conv2d", ops.get(0).op());
        assertEquals(21.0, ops.get(0).callsPerStep(), 1e-9);
        assertEquals(105.0, ops.get(0).msPerStep(), 1e-9, "420 calls of 5 ms over 20 steps");
        assertEquals(0.1, ops.get(1).msPerStep(), 1e-9);
    }

    @Test
    void routesModeTimesBothBackwardPassesPerConvolutionShape() {
        String out = stdout(new ByteArrayOutputStream(), "bench", "--network", "resnet20", "--mode", "routes",
                "--batch", "4");
        if (!ConvolutionRoutes.winogradCpu()) {
            assertTrue(out.contains("no AVX-512 Winograd kernels"), out);
            return;
        }
        // ResNet-20 at 32x32: 16 channels at 32x32 (layer1), 32 at 16x16 and 64 at 8x8 (the stride-1 ones)
        assertTrue(out.contains("16 ->  16 at  32x32 "), out);
        assertTrue(out.contains("32 ->  32 at  16x16 "), out);
        assertTrue(out.contains("64 ->  64 at   8x8 "), out);
        assertTrue(out.contains("zoo4j takes direct") && out.contains("zoo4j takes oneDNN"), out);
        assertTrue(out.contains("layer1.0.conv1, layer1.0.conv2"), "layers of one shape on one line: " + out);
    }

    @Test
    void routesModeSaysWhenANetworkHasNoConvolutionToChooseFor() {
        String out = stdout(new ByteArrayOutputStream(), "bench", "--network", "lenet5", "--mode", "routes",
                "--batch", "4");
        assertTrue(out.contains("lenet5 routes: no") || out.contains("no AVX-512 Winograd kernels"),
                "LeNet-5 has only 5x5 convolutions: " + out);
    }

    @Test
    void badOptionsAreOneLineErrors() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(2, run(err, "bench", "--network", "lenet6"));
        assertTrue(err.toString().contains("unknown benchmark network 'lenet6'"), err.toString());
        err.reset();
        assertEquals(2, run(err, "bench", "--network", "lenet5", "--mode", "fast"));
        assertTrue(err.toString().contains("--mode: one of fit, loop, infer, helpers, steps, ops, routes, params; got 'fast'"),
                err.toString());
    }
}
