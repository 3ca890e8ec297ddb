package org.zoo4j.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.zoo4j.Zoo;
import org.zoo4j.modelfile.ModelFile;
import org.zoo4j.runtime.Backend;

/**
 * The GPU check's last phase, on the CPU build ({@code mvn -Pgpu-return test}): the models the GPU tier saved, loaded
 * on the CPU. With the tier's own loading of the CPU's model files this covers saving on either backend and loading on
 * the other. See {@link GpuCheck}.
 */
@Tag("gpu-return")
class GpuReturnTest {
    static final String PHASE = "return";

    @BeforeAll
    static void onTheCpuAfterTheGpuTier() throws Exception {
        String backend = Backend.init().backend();
        if (!"CPU".equalsIgnoreCase(backend)) {
            fail("the return phase runs on the CPU build (mvn -Pgpu-return test, without -Pcuda); this JVM runs "
                    + backend);
        }
        if (!Files.isDirectory(GpuCheck.dir().resolve("from-gpu"))) {
            fail("nothing saved on a GPU in " + GpuCheck.dir().resolve("from-gpu") + ": the GPU tier (mvn -Pgpu test) "
                    + "has not run; training/benchmarks/gpu-check.sh runs the phases in order");
        }
        GpuCheck.startReport(PHASE, "GPU-saved models on the CPU: " + Backend.init().summary());
    }

    static Stream<String> cases() {
        return GpuCheck.CASES.stream().map(GpuCheck.Case::name);
    }

    /** A model stepped and saved on the GPU gives on the CPU what it gave on the GPU, and holds the GPU's step. */
    @ParameterizedTest
    @MethodSource("cases")
    void gpuSavedModelLoadsOnTheCpu(String name) throws Exception {
        Path gpu = GpuCheck.fromGpu(name);
        Path ref = GpuCheck.reference(name);
        ComputationGraph fromGpu = GpuCheck.load(gpu.resolve("stepped-gpu.zip"));
        INDArray x = GpuCheck.read(ref.resolve("input.bin"));
        double forward = GpuCheck.relMax(fromGpu.outputSingle(false, x), GpuCheck.read(gpu.resolve("output-gpu.bin")));
        ComputationGraph before = GpuCheck.load(ref.resolve("model.zip"));
        GpuCheck.ArrayError step = GpuCheck.arrayErrors(GpuCheck.updates(fromGpu, before),
                GpuCheck.updates(GpuCheck.load(ref.resolve("stepped.zip")), before));
        String line = String.format(Locale.ROOT, "%-14s saved on the GPU, loaded on the CPU: outputs differ from the "
                        + "GPU's by %.2e (bound %.0e); its SGD step against the CPU's: worst %.2e at %s", name, forward,
                GpuCheck.FORWARD_TOLERANCE, step.error(), step.worst().isEmpty() ? "-" : step.worst());
        GpuCheck.report(PHASE, line);
        assertTrue(forward <= GpuCheck.FORWARD_TOLERANCE, line);
        assertTrue(step.error() <= GpuCheck.GRADIENT_TOLERANCE, line);
    }

    /** The LeNet-5 model trained on the GPU: a zoo4j model file, its SHA-256 verified, evaluated on the CPU. */
    @Test
    void gpuTrainedLeNetEvaluatesTheSameOnTheCpu() throws Exception {
        Path run = GpuCheck.fromGpu("lenet5-run-workers1");
        ModelFile.Loaded loaded = Zoo.load(run);
        assertNotNull(loaded.card(), "the GPU wrote a model card");
        GpuCheck.Cli result = GpuCheck.cli(List.of("eval", run.resolve("best.zip").toString(), "--confusion-png",
                GpuCheck.dir().resolve("return-confusion.png").toString()));
        assertEquals(0, result.code(), result.output());
        double cpu = GpuCheck.printedAccuracy(result.output());
        double gpu = GpuCheck.testAccuracy(run);
        String line = String.format(Locale.ROOT, "lenet5 trained on the GPU, evaluated on the CPU: test accuracy %.4f; "
                + "on the GPU %.4f", cpu, gpu);
        GpuCheck.report(PHASE, line);
        // Printed to 0.01%; a handful of images on the decision boundary may flip between backends.
        assertTrue(Math.abs(cpu - gpu) <= 0.002, line);
    }
}
