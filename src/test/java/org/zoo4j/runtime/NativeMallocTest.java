package org.zoo4j.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.bytedeco.javacpp.Pointer;
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
     * Under the default policy a freed buffer of a few MB leaves the resident set at once (under {@code reuse} glibc
     * keeps it in its heap, resident, for the next request).
     */
    @Test
    @EnabledOnOs(OS.LINUX)
    void freedBuffersOfAFewMbLeaveTheResidentSet() throws IOException {
        Backend.init();
        assertTrue(Backend.mallocSettings().contains("from 1 MB mapped"), Backend.mallocSettings());
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
        long after = rss();
        assertTrue(held - after >= 40 * MB, "resident " + held / MB + " MB with 48 MB of blocks, " + after / MB
                + " MB after freeing them");
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
