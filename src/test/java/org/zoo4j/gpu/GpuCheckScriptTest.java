package org.zoo4j.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * training/benchmarks/gpu-check.sh where it cannot run (default tier, no GPU needed): it stops at once, builds
 * nothing, writes no results file and says why, with exit code 3. The first case is this machine as it is; the others
 * put a stand-in nvidia-smi in front of the script to play a GPU machine whose driver is too old, whose GPU the build
 * has no kernels for, or which lacks the CUDA libraries, and one that passes the checks ({@code --preflight-only}).
 */
class GpuCheckScriptTest {
    private static final Path SCRIPT = Path.of("training/benchmarks/gpu-check.sh");

    @TempDir
    Path dir;

    record Run(int code, String output, double seconds) {
    }

    private Run run(Map<String, String> env, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("bash", SCRIPT.toString(), "--out",
                dir.resolve("results.md").toString()));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().putAll(env);
        long start = System.nanoTime();
        Process p = pb.start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the script stops within a minute");
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        return new Run(p.exitValue(), out, (System.nanoTime() - start) / 1e9);
    }

    private static boolean onPath(String program) {
        for (String d : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!d.isEmpty() && Files.isExecutable(Path.of(d, program))) {
                return true;
            }
        }
        return false;
    }

    /** A stand-in nvidia-smi that reports one GPU with this driver and compute capability. */
    private Path fakeNvidiaSmi(String name, String driver, String computeCapability) throws IOException {
        Path smi = dir.resolve("bin").resolve("nvidia-smi");
        Files.createDirectories(smi.getParent());
        Files.writeString(smi, "#!/bin/sh\ncase \"$*\" in\n  *compute_cap*) echo \"0, " + name + ", " + driver
                + ", 24576 MiB, " + computeCapability + "\" ;;\n  *) echo 'stand-in nvidia-smi' ;;\nesac\n");
        Files.setPosixFilePermissions(smi, PosixFilePermissions.fromString("rwxr-xr-x"));
        return smi;
    }

    private void assertStoppedAtOnce(Run r) {
        assertEquals(3, r.code(), r.output());
        assertTrue(r.output().contains("nothing was built or run"), r.output());
        assertTrue(r.seconds() < 10, "stops in seconds, took " + r.seconds());
        assertFalse(Files.exists(dir.resolve("results.md")), "no results file where nothing ran");
    }

    @Test
    void withoutAGpuItStopsAtOnceAndSaysSo() throws Exception {
        // This machine as it is. Where an nvidia-smi exists (a GPU machine running the default tier), it is pointed
        // at a path that does not, so that the test never starts the real check.
        Map<String, String> env = onPath("nvidia-smi")
                ? Map.of("ZOO4J_NVIDIA_SMI", dir.resolve("no-such-nvidia-smi").toString()) : Map.of();
        Run r = run(env);
        assertStoppedAtOnce(r);
        assertTrue(r.output().contains("no NVIDIA GPU here") && r.output().contains("was not found"), r.output());
        assertTrue(r.output().contains("compute capability 3.7 to 8.x") && r.output().contains("450.80.02"),
                "it says what the check needs: " + r.output());
    }

    @Test
    void aDriverOlderThanCuda11sStopsIt() throws Exception {
        Path smi = fakeNvidiaSmi("Tesla T4", "440.33", "7.5");
        Run r = run(Map.of("ZOO4J_NVIDIA_SMI", smi.toString()));
        assertStoppedAtOnce(r);
        assertTrue(r.output().contains("NVIDIA driver 440.33 is older than 450.80.02"), r.output());
    }

    @Test
    void aHopperGpuStopsItWithTheReason() throws Exception {
        Path smi = fakeNvidiaSmi("NVIDIA H200", "580.159.03", "9.0");
        Run r = run(Map.of("ZOO4J_NVIDIA_SMI", smi.toString()));
        assertStoppedAtOnce(r);
        assertTrue(r.output().contains("GPU 0 (NVIDIA H200) has compute capability 9.0")
                && r.output().contains("no PTX") && r.output().contains("no kernel image is available"), r.output());
    }

    @Test
    void missingCudaLibrariesOfflineStopIt() throws Exception {
        Path smi = fakeNvidiaSmi("NVIDIA A100-SXM4-40GB", "535.104.05", "8.0");
        Path libs = Files.createDirectories(dir.resolve("empty-libs"));
        Run r = run(Map.of("ZOO4J_NVIDIA_SMI", smi.toString(), "ZOO4J_CUDA_LIB_DIRS", libs.toString(),
                "MAVEN_REPO", dir.resolve("empty-repo").toString()), "--offline");
        assertStoppedAtOnce(r);
        for (String lib : List.of("libcudart.so.11.0", "libcublas.so.11", "libcublasLt.so.11", "libcusolver.so.11",
                "libcudnn.so.8")) {
            assertTrue(r.output().contains(lib + ": not found"), r.output());
        }
        assertTrue(r.output().contains("-Pcuda-redist") && r.output().contains("(offline)"), r.output());
    }

    @Test
    void aMachineWithEverythingPassesThePreflight() throws Exception {
        Path smi = fakeNvidiaSmi("NVIDIA GeForce RTX 4090", "550.54.14", "8.9");
        Path libs = Files.createDirectories(dir.resolve("libs"));
        for (String lib : List.of("libcudart.so.11.0", "libcublas.so.11", "libcublasLt.so.11", "libcusolver.so.11",
                "libcudnn.so.8")) {
            Files.writeString(libs.resolve(lib), "");
        }
        Path data = Files.createDirectories(dir.resolve("data").resolve("fashion-mnist"));
        Files.writeString(data.resolve("train-images-idx3-ubyte.gz"), "");
        Run r = run(Map.of("ZOO4J_NVIDIA_SMI", smi.toString(), "ZOO4J_CUDA_LIB_DIRS", libs.toString(),
                "ZOO4J_DATA", dir.resolve("data").toString()), "--offline", "--preflight-only");
        assertEquals(0, r.code(), r.output());
        assertTrue(r.output().contains("NVIDIA GeForce RTX 4090") && r.output().contains("driver 550.54.14"),
                "prints the device and driver: " + r.output());
        assertTrue(r.output().contains("libcudnn.so.8: " + libs.resolve("libcudnn.so.8")), r.output());
        assertTrue(r.output().contains("-Pgpu package") && r.output().contains("this machine can run the check"),
                r.output());
        assertTrue(r.seconds() < 10, "took " + r.seconds());
        assertFalse(Files.exists(dir.resolve("results.md")));
    }
}
