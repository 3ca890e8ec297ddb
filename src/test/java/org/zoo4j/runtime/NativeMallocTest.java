package org.zoo4j.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.bytedeco.javacpp.Pointer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.zoo4j.Zoo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.zoo4j.base.ConfigException;

class NativeMallocTest {
    private static final long MB = 1 << 20;

    @Test
    void policyIsReleaseUnlessTheSwitchNamesAnother() throws Exception {
        withSwitch(null, () -> assertEquals(NativeMalloc.Policy.RELEASE, NativeMalloc.policy()));
        withSwitch("reuse", () -> assertEquals(NativeMalloc.Policy.REUSE, NativeMalloc.policy()));
        withSwitch(" Default ", () -> assertEquals(NativeMalloc.Policy.DEFAULT, NativeMalloc.policy()));
        withSwitch("keep", () -> {
            ConfigException e = assertThrows(ConfigException.class, NativeMalloc::policy);
            assertTrue(e.getMessage().contains("release, reuse, default"), e.getMessage());
        });
    }

    @Test
    @EnabledOnOs(OS.LINUX)
    void theEnvironmentsOwnMallocSettingsWin() throws Exception {
        withSwitch(null, () -> assertEquals("as the environment sets it (MALLOC_TOP_PAD_)",
                NativeMalloc.configure(Map.of("MALLOC_TOP_PAD_", "0"))));
        withSwitch("default", () -> assertEquals("system default (zoo4j.nativeMalloc=default)",
                NativeMalloc.configure(Map.of())));
    }

    /**
     * libnd4j's convolution route allocates its buffers in every call: where a network takes it and the switch is
     * unset, malloc keeps buffers for reuse; a policy the user named is left as it is.
     */
    @Test
    @EnabledOnOs(OS.LINUX)
    void libnd4jsConvolutionRouteKeepsBuffersForReuseUnlessAPolicyWasNamed() throws Exception {
        Backend.init();
        try {
            withSwitch(null, () -> assertEquals("glibc: buffers up to 32 MB kept for reuse (for libnd4j's convolution "
                    + "route)", NativeMalloc.forLibnd4jConvolution(Map.of())));
            withSwitch("release", () -> assertNull(NativeMalloc.forLibnd4jConvolution(Map.of())));
            withSwitch("default", () -> assertNull(NativeMalloc.forLibnd4jConvolution(Map.of())));
            withSwitch(null, () -> assertNull(NativeMalloc.forLibnd4jConvolution(Map.of("MALLOC_ARENA_MAX_", "2"))));
            // Installing the direct route on a network switches this process (once), and zoo4j info says so.
            LayerHelpersTest.withConvolution("direct", () -> {
                ComputationGraph net = Zoo.create("lenet5", Map.of("numClasses", 10));
                LayerHelpers.install(net);
                net.close();
            });
            assertTrue(Backend.mallocSettings().contains("kept for reuse (for libnd4j's convolution route)"),
                    Backend.mallocSettings());
        } finally {
            NativeMalloc.configure(Map.of()); // back to this process's own policy
        }
    }

    /**
     * Under the default policy a freed buffer of a few MB leaves the resident set at once (under {@code reuse} glibc
     * keeps it in its heap, resident, for the next request). In a process of its own, started as zoo4j starts: this
     * test process has had libnd4j's convolution route installed, and with it reuse's heap, whose free chunks glibc
     * would serve these blocks from whatever the policy is now.
     */
    @Test
    @EnabledOnOs(OS.LINUX)
    void freedBuffersOfAFewMbLeaveTheResidentSet() throws Exception {
        Process child = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx512m", "-cp", System.getProperty("java.class.path"), FreedBuffers.class.getName())
                .redirectErrorStream(true).start();
        String output = new String(child.getInputStream().readAllBytes());
        assertEquals(0, child.waitFor(), output);
        String result = output.lines().filter(l -> l.startsWith("resident ")).findFirst().orElseThrow(
                () -> new AssertionError("no result line: " + output));
        String[] f = result.split(" ");
        long held = Long.parseLong(f[1]);
        long after = Long.parseLong(f[3]);
        assertTrue(result.endsWith("glibc: buffers from 1 MB mapped and returned when freed"), result);
        assertTrue(held - after >= 40 * MB, "resident " + held / MB + " MB with 48 MB of blocks, " + after / MB
                + " MB after freeing them");
    }

    /** The child process of {@link #freedBuffersOfAFewMbLeaveTheResidentSet}: "resident HELD after AFTER MALLOC". */
    static final class FreedBuffers {
        public static void main(String[] args) throws IOException {
            Backend.init();
            long size = 8 * MB;
            Pointer[] blocks = new Pointer[6];
            for (int i = 0; i < blocks.length; i++) {
                blocks[i] = Pointer.malloc(size);
                Pointer.memset(blocks[i], 1, size); // resident only once written
            }
            long held = rss();
            for (Pointer block : blocks) {
                Pointer.free(block);
            }
            System.out.println("resident " + held + " after " + rss() + " " + Backend.mallocSettings());
        }
    }

    private static long rss() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        throw new IllegalStateException("no VmRSS in /proc/self/status");
    }

    private static void withSwitch(String value, LayerHelpersTest.ThrowingRunnable body) throws Exception {
        LayerHelpersTest.withProperty(NativeMalloc.SWITCH, value, body);
    }
}
