package org.zoo4j.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.zoo4j.base.AtomicFiles;
import org.zoo4j.runtime.Backend;
import org.zoo4j.runtime.BackendInfo;
import org.zoo4j.runtime.GpuInfo;

/**
 * The GPU tier ({@code mvn -Pgpu test}, CUDA build): one training step of every family on the GPU, outputs and
 * gradients against the CPU's for the same weights and inputs, LeNet-5's short run with one worker and (with two GPUs)
 * two, models saved for the CPU to load, and {@code ./zoo4j info}. Where it cannot run (CPU build, no GPU, no CPU
 * reference) every test fails with the reason; none is skipped. See {@link GpuCheck}.
 */
@Tag("gpu")
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class GpuTierTest {
    static final String PHASE = "gpu";

    @BeforeAll
    static void onAGpuWithTheCpuReference() throws Exception {
        BackendInfo info;
        try {
            info = Backend.init();
        } catch (Throwable t) {
            fail("the gpu tier cannot run: " + (t.getMessage() != null ? t.getMessage() : t.toString())
                    + ". training/benchmarks/gpu-check.sh checks the driver, the GPU and the CUDA libraries before it "
                    + "builds anything and says which is missing");
            return;
        }
        String problem = problem(info);
        if (problem != null && !GpuCheck.DRY_RUN) {
            fail(problem);
        }
        if (!Files.isDirectory(GpuCheck.dir().resolve("reference"))) {
            fail("no CPU reference in " + GpuCheck.dir().resolve("reference") + ": run mvn -Pgpu-reference test (CPU "
                    + "build) first; training/benchmarks/gpu-check.sh runs both");
        }
        AtomicFiles.deleteTree(GpuCheck.dir().resolve("from-gpu"));
        GpuCheck.startReport(PHASE, "GPU tier: " + info.summary() + "; NVIDIA_TF32_OVERRIDE="
                + System.getenv().getOrDefault("NVIDIA_TF32_OVERRIDE", "(unset)"));
    }

    /** Why the GPU tier cannot run in this JVM, or null where it can. */
    static String problem(BackendInfo info) {
        if (!"CUDA".equalsIgnoreCase(info.backend())) {
            return "the gpu tier needs the CUDA build and an NVIDIA GPU, but this JVM runs ND4J on " + info.backend()
                    + ": run mvn -Pgpu test on a machine with an NVIDIA GPU (training/benchmarks/gpu-check.sh runs "
                    + "the whole check and stops at once, saying why, where it cannot)";
        }
        if (info.gpu().devices().isEmpty()) {
            return "the CUDA backend runs but sees no GPU (" + info.gpu().summary() + ")";
        }
        return null;
    }

    static Stream<String> cases() {
        return GpuCheck.CASES.stream().map(GpuCheck.Case::name);
    }

    @ParameterizedTest
    @MethodSource("cases")
    @Order(1)
    void oneStepOfEachFamilyMatchesTheCpu(String name) throws Exception {
        GpuCheck.Case c = GpuCheck.CASES.stream().filter(k -> k.name().equals(name)).findFirst().orElseThrow();
        long start = System.nanoTime();
        GpuCheck.Comparison r = GpuCheck.compare(c, GpuCheck.reference(name));
        GpuCheck.report(PHASE, r.line() + String.format(Locale.ROOT, " (%.1f s)", (System.nanoTime() - start) / 1e9));

        // The step moved every trainable array and left everything finite.
        ComputationGraph before = GpuCheck.load(GpuCheck.reference(name).resolve("model.zip"));
        for (Map.Entry<String, INDArray> p : r.stepped().paramTable().entrySet()) {
            assertTrue(Double.isFinite(p.getValue().sumNumber().doubleValue()), name + ": " + p.getKey() + " finite");
        }
        List<String> unchanged = new ArrayList<>();
        for (String key : before.paramTable().keySet()) {
            if (GpuCheck.trained(before, key)
                    && r.stepped().getParam(key).sub(before.getParam(key)).amaxNumber().doubleValue() == 0) {
                unchanged.add(key);
            }
        }

        // Saved on the GPU for the CPU to load (GpuReturnTest), with what the GPU computes from it.
        Path out = GpuCheck.fromGpu(name);
        Files.createDirectories(out);
        ModelSerializer.writeModel(r.stepped(), out.resolve("stepped-gpu.zip").toFile(), false);
        GpuCheck.save(r.stepped().outputSingle(false, r.input()), out.resolve("output-gpu.bin"));

        assertTrue(r.passes(), r.line());
        assertTrue(unchanged.isEmpty(), name + ": one step on the GPU changed nothing in " + unchanged);
    }

    @Test
    @Order(2)
    void leNetShortRunWithOneWorkerReachesTheCpusAccuracy() throws Exception {
        leNetRun(1);
    }

    /**
     * {@code --workers 2} through ParallelWrapper, one replica per GPU, where the machine has two GPUs or more; with one
     * GPU the trainer must refuse it before writing anything, which is checked instead.
     */
    @Test
    @Order(3)
    void twoWorkersWhereTwoGpus() throws Exception {
        int devices = Nd4j.getAffinityManager().getNumberOfDevices();
        if (devices >= 2 || GpuCheck.DRY_RUN) {
            leNetRun(2);
            return;
        }
        Path run = GpuCheck.fromGpu("lenet5-run-workers2");
        List<String> args = new ArrayList<>(GpuCheck.LENET_RUN);
        args.addAll(List.of("--workers", "2", "--set", "device=cuda", "--out", run.toString()));
        GpuCheck.Cli result = GpuCheck.cli(args);
        GpuCheck.report(PHASE, "--workers 2 not trained: this machine has " + devices + " GPU; the trainer refused it "
                + "with exit code " + result.code());
        assertEquals(2, result.code(), result.output());
        assertTrue(result.output().contains("workers: 2 GPUs asked for, but this machine has " + devices),
                result.output());
        assertTrue(!Files.exists(run.resolve("recipe.yaml")), "nothing written for a refused run");
    }

    private static void leNetRun(int workers) throws Exception {
        Path run = GpuCheck.fromGpu("lenet5-run-workers" + workers);
        AtomicFiles.deleteTree(run);
        List<String> args = new ArrayList<>(GpuCheck.LENET_RUN);
        args.addAll(List.of("--workers", String.valueOf(workers), "--out", run.toString()));
        if (!GpuCheck.DRY_RUN) {
            args.addAll(List.of("--set", "device=cuda"));
        }
        long start = System.nanoTime();
        GpuCheck.Cli result = GpuCheck.cli(args);
        double seconds = (System.nanoTime() - start) / 1e9;
        assertEquals(0, result.code(), result.output());
        double gpu = GpuCheck.testAccuracy(run);
        double cpu = GpuCheck.testAccuracy(GpuCheck.reference("lenet5-run-workers" + workers));
        GpuCheck.report(PHASE, String.format(Locale.ROOT, "lenet5 short run (%s --workers %d) on the GPU: test "
                        + "accuracy %.4f in %.1f s; CPU %.4f; difference %.4f (band %.2f)",
                String.join(" ", GpuCheck.LENET_RUN), workers, gpu, seconds, cpu, gpu - cpu, GpuCheck.ACCURACY_BAND));
        assertTrue(Math.abs(gpu - cpu) <= GpuCheck.ACCURACY_BAND, "GPU " + gpu + " vs CPU " + cpu);
    }

    @Test
    @Order(4)
    void infoNamesTheGpuCudnnAndMemory() throws Exception {
        GpuCheck.Cli result = GpuCheck.cli(List.of("info"));
        GpuCheck.report(PHASE, "./zoo4j info:\n" + result.output().stripTrailing());
        assertEquals(0, result.code());
        GpuInfo gpu = Backend.init().gpu();
        String out = result.output();
        if (GpuCheck.DRY_RUN) {
            assertTrue(out.contains("no GPU (CPU backend)"), out);
            return;
        }
        for (GpuInfo.Device d : gpu.devices()) {
            assertTrue(out.contains(d.name()) && out.contains("compute capability " + d.computeCapability()), out);
        }
        assertTrue(out.contains("GPU 0 memory") && out.matches("(?s).*GPU 0 memory\\s+\\d+[.,]\\d+ GB total.*"), out);
        assertTrue(Pattern.compile("cuDNN\\s+\\d+\\.\\d+\\.\\d+").matcher(out).find(),
                "./zoo4j info names cuDNN's version (the -cudnn build runs): " + out);
        assertTrue(out.contains("NVIDIA driver") && !out.matches("(?s).*NVIDIA driver\\s+none.*"), out);
    }
}
