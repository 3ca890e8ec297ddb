package org.zoo4j.gpu;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.zoo4j.Zoo;
import org.zoo4j.base.Configs;
import org.zoo4j.base.InputShape;
import org.zoo4j.cli.Main;
import org.zoo4j.runtime.LayerHelpers;

/**
 * The GPU check's shared parts. One JVM runs one ND4J backend, so the check runs in three processes:
 * <ol>
 *   <li>{@code -Pgpu-reference} (CPU build, {@link GpuReferenceTest}): for one network of each family, fixed weights
 *       (a DL4J model file), a fixed input batch and labels, and what the CPU computes from them: inference outputs,
 *       gradients, and the weights after one SGD step; and a short LeNet-5 run on Fashion-MNIST, with one worker and
 *       with two;</li>
 *   <li>{@code -Pgpu} (CUDA build, {@link GpuTierTest}): the same on the GPU from the same files, compared; the GPU's
 *       stepped models and their outputs saved; the LeNet-5 runs on the GPU; {@code ./zoo4j info};</li>
 *   <li>{@code -Pgpu-return} (CPU build, {@link GpuReturnTest}): the models saved on the GPU loaded on the CPU.</li>
 * </ol>
 * Files go under {@value #DIR_PROPERTY} (default {@code target/gpu-check}); each phase appends what it measured to
 * {@code report-PHASE.txt} there, which {@code training/benchmarks/gpu-check.sh} copies into its results file.
 */
final class GpuCheck {
    static final String DIR_PROPERTY = "zoo4j.gpuCheck.dir";
    /**
     * For developing the check without a GPU: {@code -Dzoo4j.gpuCheck.dryRunOnCpu=true} lets the GPU tier run its code
     * on the CPU build (so that the CPU is compared with itself), and says so in every report line. Never a result.
     */
    static final boolean DRY_RUN = Boolean.getBoolean("zoo4j.gpuCheck.dryRunOnCpu");
    static final int BATCH = 8;
    /** Largest difference of the inference outputs relative to the largest output (the bound). */
    static final double FORWARD_TOLERANCE = 1e-4;
    /**
     * Gradients and one SGD step: per parameter array, the L2 norm of the difference relative to the array's own norm
     * (or, for arrays whose gradient is near zero, such as a convolution bias before batch norm, to 1e-4 of the whole
     * gradient's norm). Float32 sums in another order, and cuDNN's algorithms, give differences of 1e-6 to 1e-4.
     */
    static final double GRADIENT_TOLERANCE = 1e-3;
    /** LeNet-5's short run: accuracy on the GPU within this of the CPU's (same data order and initial weights). */
    static final double ACCURACY_BAND = 0.03;
    /** The short LeNet-5 run: one epoch of 12,000 Fashion-MNIST images, as ./zoo4j train takes it. */
    static final List<String> LENET_RUN = List.of("train", "--subset", "12000", "--epochs", "1");

    static final Map<String, Object> SGD = Map.of("name", "sgd", "learningRate", 0.01);

    /**
     * A network of each family at a reduced input: the basic (CIFAR) and bottleneck ResNets, VGG with batch norm and
     * the compact head, AlexNet without dropout (its random masks differ between backends), LeNet-5. Plain SGD, so that
     * one step is the gradient scaled and compares as strictly.
     */
    record Case(String name, String model, Map<String, Object> settings) {
        InputShape input() {
            return Configs.override(Zoo.get(model).preset(), settings).input();
        }

        int classes() {
            return ((Number) settings.getOrDefault("numClasses", Zoo.get(model).preset().numClasses())).intValue();
        }
    }

    static final List<Case> CASES = List.of(
            new Case("lenet5", "lenet5", Map.of("updater", SGD)),
            new Case("alexnet-small", "alexnet-small", Map.of("dropout", 0.0, "updater", SGD)),
            new Case("vgg11-bn", "vgg11-bn", Map.of("input", "3,32,32", "numClasses", 10, "classifier", List.of(),
                    "updater", SGD)),
            new Case("resnet20", "resnet20", Map.of("updater", SGD)),
            new Case("resnet50", "resnet50", Map.of("input", "3,64,64", "numClasses", 10, "updater", SGD)));

    private GpuCheck() {
    }

    static Path dir() {
        return Path.of(System.getProperty(DIR_PROPERTY, "target/gpu-check")).toAbsolutePath();
    }

    static Path reference(String name) {
        return dir().resolve("reference").resolve(name);
    }

    static Path fromGpu(String name) {
        return dir().resolve("from-gpu").resolve(name);
    }

    /** Appends a line to the phase's report and prints it. */
    static void report(String phase, String line) throws IOException {
        if (DRY_RUN) {
            line = "DRY RUN ON THE CPU, NOT A GPU RESULT: " + line;
        }
        System.out.println("[gpu-check " + phase + "] " + line);
        Files.createDirectories(dir());
        Files.writeString(dir().resolve("report-" + phase + ".txt"), line + "\n", StandardCharsets.UTF_8,
                StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    /** Starts a phase's report afresh. */
    static void startReport(String phase, String header) throws IOException {
        Files.createDirectories(dir());
        Files.deleteIfExists(dir().resolve("report-" + phase + ".txt"));
        report(phase, header);
    }

    // ---- the reference (CPU) -------------------------------------------------------------------------------------

    /**
     * Writes the case's reference into {@code out}: model.zip (initial weights), input.bin, labels.bin, output.bin
     * (inference), gradient/KEY.bin and score.txt, stepped.zip (the weights after one SGD step, zoo4j's layer helpers
     * installed as the trainer installs them).
     */
    static void writeReference(Case c, Path out) throws IOException {
        Files.createDirectories(out.resolve("gradient"));
        Nd4j.getRandom().setSeed(42);
        ComputationGraph net = Zoo.create(c.model(), c.settings());
        InputShape in = c.input();
        INDArray x = Nd4j.randn(DataType.FLOAT, BATCH, in.channels(), in.height(), in.width());
        INDArray labels = Nd4j.zeros(DataType.FLOAT, BATCH, c.classes());
        for (int i = 0; i < BATCH; i++) {
            labels.putScalar(i, (i * 3) % c.classes(), 1.0);
        }
        ModelSerializer.writeModel(net, out.resolve("model.zip").toFile(), true);
        save(x, out.resolve("input.bin"));
        save(labels, out.resolve("labels.bin"));
        save(net.outputSingle(false, x), out.resolve("output.bin"));
        Gradients g = gradients(load(out.resolve("model.zip")), x, labels);
        for (Map.Entry<String, INDArray> e : g.arrays().entrySet()) {
            save(e.getValue(), out.resolve("gradient").resolve(e.getKey() + ".bin"));
        }
        Files.writeString(out.resolve("score.txt"), Double.toString(g.score()));
        ComputationGraph stepped = step(load(out.resolve("model.zip")), x, labels);
        ModelSerializer.writeModel(stepped, out.resolve("stepped.zip").toFile(), false);
    }

    record Gradients(double score, Map<String, INDArray> arrays) {
    }

    /** The loss and gradients of {@code net} on one batch, in training mode, copied out. */
    static Gradients gradients(ComputationGraph net, INDArray x, INDArray labels) {
        net.setInputs(x);
        net.setLabels(labels);
        net.computeGradientAndScore();
        Map<String, INDArray> out = new TreeMap<>();
        net.gradient().gradientForVariable().forEach((k, v) -> out.put(k, v.dup()));
        return new Gradients(net.score(), out);
    }

    /** One training step as zoo4j's trainer takes it: its layer helpers installed, then DL4J's fit. */
    static ComputationGraph step(ComputationGraph net, INDArray x, INDArray labels) {
        LayerHelpers.install(net);
        net.fit(new DataSet(x, labels));
        return net;
    }

    static ComputationGraph load(Path modelZip) throws IOException {
        return ModelSerializer.restoreComputationGraph(modelZip.toFile(), true);
    }

    static void save(INDArray a, Path file) throws IOException {
        Nd4j.saveBinary(a, file.toFile());
    }

    static INDArray read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IOException(file + " is missing: the CPU reference phase (mvn -Pgpu-reference test, which "
                    + "training/benchmarks/gpu-check.sh runs first) has not written it");
        }
        return Nd4j.readBinary(file.toFile());
    }

    // ---- comparisons ---------------------------------------------------------------------------------------------

    /** max |a - ref| / max |ref|. */
    static double relMax(INDArray a, INDArray ref) {
        double scale = ref.amaxNumber().doubleValue();
        return a.castTo(DataType.DOUBLE).sub(ref.castTo(DataType.DOUBLE)).amaxNumber().doubleValue()
                / Math.max(scale, 1e-30);
    }

    /** The worst per-array error of {@code actual} against {@code expected}, as {@link #GRADIENT_TOLERANCE} says. */
    record ArrayError(String worst, double error, int arrays) {
    }

    static ArrayError arrayErrors(Map<String, INDArray> actual, Map<String, INDArray> expected) {
        double total = 0;
        for (INDArray e : expected.values()) {
            double n = e.castTo(DataType.DOUBLE).norm2Number().doubleValue();
            total += n * n;
        }
        double floor = 1e-4 * Math.sqrt(total);
        String worst = "";
        double worstError = 0;
        for (Map.Entry<String, INDArray> e : expected.entrySet()) {
            INDArray a = actual.get(e.getKey());
            if (a == null) {
                return new ArrayError(e.getKey() + " (missing)", Double.POSITIVE_INFINITY, expected.size());
            }
            INDArray ref = e.getValue().castTo(DataType.DOUBLE);
            double diff = a.castTo(DataType.DOUBLE).sub(ref).norm2Number().doubleValue();
            double err = diff / Math.max(ref.norm2Number().doubleValue(), Math.max(floor, 1e-30));
            if (!(err <= worstError)) { // NaN counts as worst
                worstError = err;
                worst = e.getKey();
            }
        }
        return new ArrayError(worst, worstError, expected.size());
    }

    /**
     * Whether a step trains {@code key}: batch-norm running statistics are not trained, and a bias that feeds batch
     * norm gets no gradient (the normalisation subtracts it again). As RegistryModelsTest decides it.
     */
    static boolean trained(ComputationGraph graph, String key) {
        String layer = key.substring(0, key.lastIndexOf('_'));
        String param = key.substring(key.lastIndexOf('_') + 1);
        if (graph.getLayer(layer).conf().getLayer() instanceof BatchNormalization) {
            return param.equals("gamma") || param.equals("beta");
        }
        if (param.equals("b")) {
            for (Map.Entry<String, List<String>> e : graph.getConfiguration().getVertexInputs().entrySet()) {
                if (e.getValue().contains(layer) && graph.getConfiguration().getVertices().get(e.getKey())
                        instanceof LayerVertex lv && lv.getLayerConf().getLayer() instanceof BatchNormalization) {
                    return false;
                }
            }
        }
        return true;
    }

    /** The parameters after a step minus those before, by name. */
    static Map<String, INDArray> updates(ComputationGraph after, ComputationGraph before) {
        Map<String, INDArray> out = new TreeMap<>();
        after.paramTable().forEach((k, v) -> out.put(k, v.sub(before.getParam(k))));
        return out;
    }

    static Map<String, INDArray> readGradients(Path referenceDir) throws IOException {
        Map<String, INDArray> out = new TreeMap<>();
        try (var files = Files.list(referenceDir.resolve("gradient"))) {
            for (Path f : files.sorted().toList()) {
                String name = f.getFileName().toString();
                out.put(name.substring(0, name.length() - ".bin".length()), read(f));
            }
        }
        return out;
    }

    /**
     * What this backend computes from a case's reference files, against them: the largest forward error, the worst
     * gradient and step errors, the score difference; {@code net} and {@code stepped} for the caller to save.
     */
    record Comparison(String name, double forward, ArrayError gradient, ArrayError step, double score,
                      double referenceScore, ComputationGraph stepped, INDArray input) {
        boolean passes() {
            return forward <= FORWARD_TOLERANCE && gradient.error() <= GRADIENT_TOLERANCE
                    && step.error() <= GRADIENT_TOLERANCE && Math.abs(score - referenceScore)
                    <= GRADIENT_TOLERANCE * Math.abs(referenceScore);
        }

        String line() {
            return String.format(Locale.ROOT, "%-14s forward %.2e (bound %.0e); gradients worst %.2e at %s (%d arrays, "
                            + "bound %.0e); one SGD step worst %.2e at %s; loss %.6f vs CPU %.6f; %s", name, forward,
                    FORWARD_TOLERANCE, gradient.error(), or(gradient.worst()), gradient.arrays(), GRADIENT_TOLERANCE,
                    step.error(), or(step.worst()), score, referenceScore, passes() ? "PASS" : "FAIL");
        }

        private static String or(String worst) {
            return worst.isEmpty() ? "-" : worst;
        }
    }

    static Comparison compare(Case c, Path ref) throws IOException {
        INDArray x = read(ref.resolve("input.bin"));
        INDArray labels = read(ref.resolve("labels.bin"));
        ComputationGraph net = load(ref.resolve("model.zip"));
        double forward = relMax(net.outputSingle(false, x), read(ref.resolve("output.bin")));
        Gradients g = gradients(load(ref.resolve("model.zip")), x, labels);
        ArrayError gradient = arrayErrors(g.arrays(), readGradients(ref));
        ComputationGraph before = load(ref.resolve("model.zip"));
        ComputationGraph stepped = step(load(ref.resolve("model.zip")), x, labels);
        ComputationGraph referenceStepped = load(ref.resolve("stepped.zip"));
        ArrayError step = arrayErrors(updates(stepped, before), updates(referenceStepped, before));
        double referenceScore = Double.parseDouble(Files.readString(ref.resolve("score.txt")).trim());
        return new Comparison(c.name(), forward, gradient, step, g.score(), referenceScore, stepped, x);
    }

    // ---- the command line ----------------------------------------------------------------------------------------

    /** The exit code and everything printed of {@code ./zoo4j ARGS} run in this JVM. */
    record Cli(int code, String output) {
    }

    static synchronized Cli cli(List<String> args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        PrintStream both = new PrintStream(buffer, true, StandardCharsets.UTF_8);
        System.setOut(both);
        System.setErr(both);
        int code;
        try {
            code = Main.run(args.toArray(String[]::new));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
        String text = buffer.toString(StandardCharsets.UTF_8);
        out.print(text);
        return new Cli(code, text);
    }

    /** The test accuracy that a finished run wrote into its results.json. */
    static double testAccuracy(Path run) throws IOException {
        Map<?, ?> results = Configs.fromJson(Files.readString(run.resolve("results.json")), LinkedHashMap.class);
        Object a = results.get("testAccuracy");
        if (!(a instanceof Number n)) {
            throw new IOException(run.resolve("results.json") + " has no testAccuracy: " + results);
        }
        return n.doubleValue();
    }

    /** The accuracy that ./zoo4j eval printed ("..., accuracy 81.23%, ..."). */
    static double printedAccuracy(String output) {
        Matcher m = Pattern.compile("accuracy (\\d+\\.\\d+)%").matcher(output);
        if (!m.find()) {
            throw new IllegalStateException("no accuracy in: " + output);
        }
        return Double.parseDouble(m.group(1)) / 100;
    }
}
