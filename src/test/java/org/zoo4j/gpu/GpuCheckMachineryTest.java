package org.zoo4j.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.zoo4j.Zoo;
import org.zoo4j.runtime.Backend;

/**
 * The GPU check's reference and comparison code on the CPU (default tier), so that its first run on a GPU does not also
 * test it: the CPU reproduces its own reference to ~0, the comparison catches a changed output or gradient, the GPU tier
 * refuses the CPU build with its reason, and every case is a valid model configuration.
 */
class GpuCheckMachineryTest {
    @TempDir
    Path dir;

    private static GpuCheck.Case named(String name) {
        return GpuCheck.CASES.stream().filter(c -> c.name().equals(name)).findFirst().orElseThrow();
    }

    @Test
    void theCpuReproducesItsReferenceAndAChangeIsCaught() throws Exception {
        // LeNet-5 as the GPU tier takes it, and ResNet-20 (batch norm, shortcuts, biases without a gradient) at 16x16
        // to keep the default tier quick.
        for (GpuCheck.Case c : List.of(named("lenet5"), new GpuCheck.Case("resnet20-16x16", "resnet20",
                Map.of("input", "3,16,16", "updater", GpuCheck.SGD)))) {
            Path ref = dir.resolve(c.name());
            GpuCheck.writeReference(c, ref);
            GpuCheck.Comparison same = GpuCheck.compare(c, ref);
            assertTrue(same.passes(), same.line());
            assertTrue(same.forward() <= 1e-6 && same.gradient().error() <= 1e-6 && same.step().error() <= 1e-6,
                    same.line());
            assertTrue(same.gradient().arrays() > 0 && same.step().arrays() > 0, same.line());
        }

        // An output 0.1% off, then a gradient array 1% off: each is caught.
        GpuCheck.Case c = named("lenet5");
        Path ref = dir.resolve(c.name());
        INDArray output = GpuCheck.read(ref.resolve("output.bin"));
        GpuCheck.save(output.mul(1.001), ref.resolve("output.bin"));
        GpuCheck.Comparison forward = GpuCheck.compare(c, ref);
        assertFalse(forward.passes(), forward.line());
        assertTrue(forward.forward() > GpuCheck.FORWARD_TOLERANCE, forward.line());
        GpuCheck.save(output, ref.resolve("output.bin"));

        Path gradient;
        try (var files = Files.list(ref.resolve("gradient"))) {
            gradient = files.filter(f -> f.getFileName().toString().endsWith("_W.bin")).findFirst().orElseThrow();
        }
        GpuCheck.save(GpuCheck.read(gradient).mul(1.01), gradient);
        GpuCheck.Comparison grad = GpuCheck.compare(c, ref);
        assertFalse(grad.passes(), grad.line());
        assertTrue(grad.gradient().error() > GpuCheck.GRADIENT_TOLERANCE, grad.line());
    }

    @Test
    void theGpuTierRefusesTheCpuBuildWithItsReason() {
        String problem = GpuTierTest.problem(Backend.init());
        assertNotNull(problem);
        assertTrue(problem.contains("needs the CUDA build") && problem.contains("mvn -Pgpu test")
                && problem.contains("gpu-check.sh"), problem);
    }

    @Test
    void everyCaseIsAValidModel() {
        assertEquals(Set.of("lenet", "alexnet", "vgg", "resnet"), GpuCheck.CASES.stream()
                .map(c -> Zoo.get(c.model()).family().name()).collect(Collectors.toSet()),
                "a network of every family");
        for (GpuCheck.Case c : GpuCheck.CASES) {
            assertNotNull(Zoo.get(c.model()).config(c.settings()), c.name());
            assertTrue(c.classes() > 1 && c.input().height() >= 28, c.name());
        }
    }
}
