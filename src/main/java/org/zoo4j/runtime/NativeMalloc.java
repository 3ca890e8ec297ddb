package org.zoo4j.runtime;

import com.sun.jna.Function;
import com.sun.jna.NativeLibrary;
import java.util.Locale;
import java.util.Map;

/**
 * glibc malloc settings for ND4J's and oneDNN's native buffers, applied once at start-up ({@link Backend#init()}).
 *
 * <p>glibc serves a request over its mmap threshold (128 KB at first, raised as such blocks are freed) with a fresh
 * mapping and returns it to the kernel on free, and it gives the top of its heap back once more than the trim
 * threshold is free. libnd4j and oneDNN allocate and free buffers of several MB in every layer call (layout reorders,
 * op temporaries), so a training step kept asking the kernel for zeroed pages: on ResNet-20 (batch 128, 2 cores)
 * 150,000 to 320,000 page faults per 3 s in some stretches of a run and none in others, a 8 MB reorder taking 5.0 ms
 * instead of 1.3 ms, and the run-to-run spread the benchmark saw. With a 32 MB mmap threshold (glibc's maximum), a
 * 1 GB trim threshold and 64 MB of top padding, freed buffers are reused and a warm run has no page faults.
 *
 * <p>The cost is resident memory: up to the trim threshold of freed heap is kept rather than returned. Where the user
 * set any {@code MALLOC_*_} variable or {@value #SWITCH}{@code =default}, or the C library is not glibc, nothing is
 * changed.
 */
public final class NativeMalloc {
    // mallopt parameters, from glibc's malloc.h
    private static final int M_TRIM_THRESHOLD = -1;
    private static final int M_TOP_PAD = -2;
    private static final int M_MMAP_THRESHOLD = -3;

    /** {@code -Dzoo4j.nativeMalloc=default} leaves glibc as it is (for comparisons). */
    public static final String SWITCH = "zoo4j.nativeMalloc";

    static final int MMAP_THRESHOLD = 32 << 20;
    static final int TRIM_THRESHOLD = 1 << 30;
    static final int TOP_PAD = 64 << 20;

    private NativeMalloc() {
    }

    /** Applies the settings; returns what was done, for the start-up log and {@code zoo4j info}. */
    static String configure(Map<String, String> environment) {
        if (!System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux")) {
            return "system default (not Linux)";
        }
        if ("default".equalsIgnoreCase(System.getProperty(SWITCH, "").trim())) {
            return "system default (" + SWITCH + "=default)";
        }
        for (String name : environment.keySet()) {
            if (name.startsWith("MALLOC_") && name.endsWith("_")) {
                return "as the environment sets it (" + name + ")";
            }
        }
        try {
            Function mallopt = NativeLibrary.getInstance("c").getFunction("mallopt");
            boolean ok = mallopt.invokeInt(new Object[] {M_MMAP_THRESHOLD, MMAP_THRESHOLD}) == 1
                    & mallopt.invokeInt(new Object[] {M_TRIM_THRESHOLD, TRIM_THRESHOLD}) == 1
                    & mallopt.invokeInt(new Object[] {M_TOP_PAD, TOP_PAD}) == 1;
            return ok ? "glibc: buffers up to 32 MB kept for reuse" : "system default (mallopt refused the settings)";
        } catch (UnsatisfiedLinkError | RuntimeException e) {
            return "system default (no glibc mallopt: " + e.getMessage() + ")";
        }
    }
}
