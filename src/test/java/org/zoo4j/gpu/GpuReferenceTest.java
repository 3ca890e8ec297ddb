package org.zoo4j.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.zoo4j.base.AtomicFiles;
import org.zoo4j.runtime.Backend;

/**
 * The GPU check's first phase, on the CPU build ({@code mvn -Pgpu-reference test}): the reference that the GPU tier
 * ({@link GpuTierTest}) compares against. See {@link GpuCheck}.
 */
@Tag("gpu-reference")
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class GpuReferenceTest {
    static final String PHASE = "reference";

    @BeforeAll
    static void onTheCpu() throws Exception {
        String backend = Backend.init().backend();
        if (!"CPU".equalsIgnoreCase(backend)) {
            fail("the reference phase runs on the CPU build (mvn -Pgpu-reference test, without -Pcuda); this JVM runs "
                    + backend);
        }
        AtomicFiles.deleteTree(GpuCheck.dir().resolve("reference"));
        AtomicFiles.deleteTree(GpuCheck.dir().resolve("from-gpu"));
        GpuCheck.startReport(PHASE, "CPU reference: " + Backend.init().summary());
    }

    /** Every family's reference, checked by recomputing it from its own files on the CPU (errors must be ~0). */
    @Test
    @Order(1)
    void writesEachFamilysReference() throws Exception {
        List<String> failed = new ArrayList<>();
        for (GpuCheck.Case c : GpuCheck.CASES) {
            Path ref = GpuCheck.reference(c.name());
            GpuCheck.writeReference(c, ref);
            GpuCheck.Comparison self = GpuCheck.compare(c, ref);
            GpuCheck.report(PHASE, "written " + c.name() + " (input " + c.input() + ", batch " + GpuCheck.BATCH
                    + "); recomputed on the CPU: " + self.line());
            if (!self.passes()) {
                failed.add(self.line());
            }
        }
        assertTrue(failed.isEmpty(), "the CPU does not reproduce its own reference: " + failed);
    }

    /** LeNet-5's short run on the CPU, with one worker and with two (ParallelWrapper's CPU replicas). */
    @Test
    @Order(2)
    void shortLeNetRunsOnTheCpu() throws Exception {
        for (int workers : new int[] {1, 2}) {
            Path run = GpuCheck.reference("lenet5-run-workers" + workers);
            AtomicFiles.deleteTree(run);
            List<String> args = new ArrayList<>(GpuCheck.LENET_RUN);
            args.addAll(List.of("--workers", String.valueOf(workers), "--out", run.toString()));
            long start = System.nanoTime();
            GpuCheck.Cli result = GpuCheck.cli(args);
            assertEquals(0, result.code(), result.output());
            double accuracy = GpuCheck.testAccuracy(run);
            GpuCheck.report(PHASE, String.format(Locale.ROOT, "lenet5 short run (%s --workers %d) on the CPU: test "
                    + "accuracy %.4f in %.1f s", String.join(" ", GpuCheck.LENET_RUN), workers, accuracy,
                    (System.nanoTime() - start) / 1e9));
            assertTrue(accuracy > 0.6, "LeNet-5 learns on the CPU: " + accuracy);
            assertTrue(Files.isRegularFile(run.resolve("best.zip")));
        }
    }
}
