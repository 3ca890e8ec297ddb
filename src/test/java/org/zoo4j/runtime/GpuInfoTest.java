package org.zoo4j.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.bytedeco.javacpp.Loader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.zoo4j.cli.Main;

/** What zoo4j reports about GPUs, and how it picks nd4j-cuda's build, on any machine (no GPU needed). */
class GpuInfoTest {
    @TempDir
    Path dir;

    @Test
    void theCpuBuildReportsNoGpu() throws Exception {
        GpuInfo gpu = Backend.init().gpu();
        assertFalse(gpu.cuda());
        assertTrue(gpu.devices().isEmpty());
        assertTrue(gpu.summary().startsWith("no GPU (CPU backend"), gpu.summary());
        assertEquals("none (CPU backend)", gpu.cudnn());

        ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        PrintStream out = System.out;
        System.setOut(new PrintStream(buffer, true, StandardCharsets.UTF_8));
        int code;
        try {
            code = Main.run("info");
        } finally {
            System.setOut(out);
        }
        String info = buffer.toString(StandardCharsets.UTF_8);
        assertEquals(0, code, info);
        assertTrue(info.matches("(?s).*\\nGPU\\s+no GPU \\(CPU backend\\).*"), info);
        assertTrue(info.matches("(?s).*\\ncuDNN\\s+none \\(CPU backend\\).*"), info);
        assertTrue(info.matches("(?s).*\\nNVIDIA driver\\s+\\S.*"), info);
        assertTrue(info.matches("(?s).*\\ninference\\s+a copy with batch norms folded into convolutions, ReLUs applied"
                        + " by the convolution or addition.*"),
                info);
    }

    /** The CUDA backend's environment as nd4j-cuda-11.6 builds it: a list of maps, numbers as Longs. */
    @Test
    void devicesAreReadFromNd4jsCudaEnvironment() {
        Properties env = new Properties();
        env.put("backend", "CUDA");
        env.put("cuda.devicesInformation", List.of(
                Map.of("cuda.deviceName", "NVIDIA A100-SXM4-80GB", "cuda.deviceMajor", 8L, "cuda.deviceMinor", 0L,
                        "cuda.totalMemory", 85_899_345_920L, "cuda.freeMemory", 84_000_000_000L),
                Map.of("cuda.deviceName", "NVIDIA A100-SXM4-80GB", "cuda.deviceMajor", 8L, "cuda.deviceMinor", 0L,
                        "cuda.totalMemory", 85_899_345_920L, "cuda.freeMemory", 85_000_000_000L)));
        List<GpuInfo.Device> devices = GpuInfo.devices(env);
        assertEquals(2, devices.size());
        assertEquals(new GpuInfo.Device(1, "NVIDIA A100-SXM4-80GB", 8, 0, 85_899_345_920L, 85_000_000_000L),
                devices.get(1));
        GpuInfo gpu = new GpuInfo(true, devices, "535.104.05", "8.3.2", "");
        assertEquals("GPU 0 NVIDIA A100-SXM4-80GB (compute 8.0, 80.0 GiB memory), GPU 1 NVIDIA A100-SXM4-80GB (compute "
                + "8.0, 80.0 GiB memory); driver 535.104.05; cuDNN 8.3.2", gpu.summary());
        assertTrue(GpuInfo.devices(new Properties()).isEmpty(), "the CPU backend has no device list");
        assertTrue(GpuInfo.cpu("580.159.03").summary().contains("NVIDIA driver 580.159.03 installed: build with -Pcuda"));
    }

    /** JavaCPP loads the -cudnn build only when told; without cuDNN the plain build runs where it is there. */
    @Test
    void theCudnnBuildIsChosenWhereCudnnIsFound() {
        assertEquals(new Backend.CudaChoice("-cudnn", ""), Backend.chooseCudaBuild(true, true, "/usr/lib/libcudnn.so.8"));
        Backend.CudaChoice plain = Backend.chooseCudaBuild(true, true, null);
        assertNull(plain.extension());
        assertTrue(plain.note().contains("libcudnn.so.8") && plain.note().contains("without cuDNN")
                && plain.note().contains("-Pcuda,cuda-redist"), plain.note());
        Backend.CudaChoice only = Backend.chooseCudaBuild(true, false, null);
        assertEquals("-cudnn", only.extension());
        assertTrue(only.note().contains("will fail to load"), only.note());
        assertEquals(new Backend.CudaChoice(null, ""), Backend.chooseCudaBuild(false, true, null));

        // Which build loaded, read from JavaCPP's loaded libraries.
        String cache = "/root/.javacpp/cache/nd4j-cuda-11.6-1.0.0-M2.1-linux-x86_64%s.jar/org/nd4j/linalg/jcublas/"
                + "bindings/" + Loader.getPlatform() + "%s/libjnind4jcuda.so";
        assertEquals("-cudnn", Backend.loadedCudaBuild(List.of("/x/libjnijavacpp.so",
                String.format(cache, "-cudnn", "-cudnn"))));
        assertEquals("", Backend.loadedCudaBuild(List.of(String.format(cache, "", ""))));
        assertEquals("unknown", Backend.loadedCudaBuild(List.of("/x/libjnijavacpp.so")));
    }

    @Test
    void librariesAreFoundOnTheLibraryPathAndTheDriverVersionIsRead() throws Exception {
        Path lib = Files.createDirectories(dir.resolve("lib"));
        Files.writeString(lib.resolve("libcudnn.so.8"), "");
        Map<String, String> env = Map.of("LD_LIBRARY_PATH", "/nonexistent:" + lib);
        assertEquals(lib.resolve("libcudnn.so.8").toString(),
                CudaLibraries.locate("libcudnn.so.8", env, null).orElseThrow().where());
        assertTrue(CudaLibraries.locate("libzoo4j-none.so.1", env, null).isEmpty());
        assertTrue(CudaLibraries.searchPath(env).contains(Path.of("/usr/local/cuda-11.6/lib64")),
                "libnd4jcuda.so's own run path is searched");

        Path version = dir.resolve("version");
        Files.writeString(version, "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.159.03  Thu Sep 18 2025\n"
                + "GCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n");
        assertEquals("580.159.03", CudaLibraries.driverVersion(version));
        assertNull(CudaLibraries.driverVersion(dir.resolve("absent")));
    }
}
