package org.zoo4j.runtime;

import com.sun.jna.Function;
import com.sun.jna.NativeLibrary;
import java.util.Locale;
import java.util.Map;
import org.zoo4j.base.Choices;

/**
 * glibc malloc settings for ND4J's and oneDNN's native buffers, applied once at start-up ({@link Backend#init()}).
 *
 * <p>glibc serves a request over its mmap threshold with a mapping of its own and returns it to the kernel on free.
 * The threshold starts at 128 KB and, left alone, rises to the size of each mapped block freed (up to 32 MB); blocks
 * under it come from the heap, where a freed block stays resident. Training is where that costs: in its first three
 * steps DL4J's workspaces are still learning their sizes and ND4J allocates arrays one by one (ResNet-20 at batch 128:
 * 1.1 GB in blocks of 1 MB or more in step 1, 0.4 GB in each of steps 2 and 3, none from step 5 on), and what the heap
 * took then stayed resident for the rest of the run.
 *
 * <p>{@link Policy#RELEASE}, the default, fixes the threshold at 1 MB: every block of 1 MB or more is a mapping of its
 * own, returned when freed, so resident memory follows what is live (ResNet-20's training peak 681 MB against 1,812
 * under {@code reuse}, {@code training/benchmarks/native-allocations-2026-12-03-e732f72.txt}). Steps that allocate
 * such blocks every time fault their pages in again each time: in steady state ResNet-20's and LeNet-5's training
 * steps allocate none, AlexNet-small's 2 (5.8 MB in all), VGG16-BN's 4 (8.0 MB), ResNet-18's 5 (14.5 MB) (same file).
 * {@link Policy#REUSE} is what zoo4j set before: blocks up to 32 MB from the heap and 1 GB of freed heap kept, for
 * code that allocates large buffers in every call (libnd4j's own oneDNN route did: 150,000 to 320,000 page faults per
 * 3 s on ResNet-20 before zoo4j's layer helpers). Where the user set any {@code MALLOC_*_} variable, or the C library
 * is not glibc, nothing is changed.
 *
 * <p>libnd4j's convolution route still allocates its buffers in every call, so where a network's convolutions take it
 * (zoo4j's {@code direct} route, which is also the fallback where the dnnl natives do not load, or DL4J's own helper)
 * and {@value #SWITCH} is unset, {@link LayerHelpers} switches the process to {@link Policy#REUSE}
 * ({@link #forLibnd4jConvolution}): under {@code release} that route faulted its buffers in afresh in every call and
 * trained ResNet-20 several times slower.
 */
public final class NativeMalloc {
    // mallopt parameters, from glibc's malloc.h
    private static final int M_TRIM_THRESHOLD = -1;
    private static final int M_TOP_PAD = -2;
    private static final int M_MMAP_THRESHOLD = -3;

    /** {@code -Dzoo4j.nativeMalloc=release|reuse|default}: the {@link Policy}, written in lower case. */
    public static final String SWITCH = "zoo4j.nativeMalloc";

    /** How native buffers of a MB or more are served. */
    public enum Policy {
        /** Mapped on their own from 1 MB and returned to the kernel when freed: resident memory follows live memory. */
        RELEASE,
        /** From the heap up to 32 MB, with 1 GB of freed heap kept for reuse: no page faults, memory held after peaks. */
        REUSE,
        /** glibc as it comes (for comparisons). */
        DEFAULT
    }

    static final int RELEASE_MMAP_THRESHOLD = 1 << 20;
    static final int REUSE_MMAP_THRESHOLD = 32 << 20;
    static final int REUSE_TRIM_THRESHOLD = 1 << 30;
    static final int REUSE_TOP_PAD = 64 << 20;

    private NativeMalloc() {
    }

    /** The policy {@value #SWITCH} names ({@link Policy#RELEASE} when unset); a {@code ConfigException} otherwise. */
    static Policy policy() {
        String value = System.getProperty(SWITCH);
        return value == null || value.isBlank() ? Policy.RELEASE : Choices.parse(Policy.class, SWITCH, value);
    }

    /** Applies the settings; returns what was done, for the start-up log and {@code zoo4j info}. */
    static String configure(Map<String, String> environment) {
        return apply(policy(), environment, SWITCH + "=reuse");
    }

    /**
     * Switches to {@link Policy#REUSE} for libnd4j's convolution route, unless {@value #SWITCH} names a policy or the
     * environment sets malloc itself; returns what was done, or null where nothing changed.
     */
    static String forLibnd4jConvolution(Map<String, String> environment) {
        String value = System.getProperty(SWITCH);
        if (value != null && !value.isBlank()) {
            return null;
        }
        String done = apply(Policy.REUSE, environment, "for libnd4j's convolution route");
        return done.startsWith("glibc:") ? done : null;
    }

    /** Applies {@code policy}; {@code reuseReason} says in the description why {@code reuse} was chosen. */
    private static String apply(Policy policy, Map<String, String> environment, String reuseReason) {
        if (!System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux")) {
            return "system default (not Linux)";
        }
        if (policy == Policy.DEFAULT) {
            return "system default (" + SWITCH + "=default)";
        }
        for (String name : environment.keySet()) {
            if (name.startsWith("MALLOC_") && name.endsWith("_")) {
                return "as the environment sets it (" + name + ")";
            }
        }
        try {
            Function mallopt = NativeLibrary.getInstance("c").getFunction("mallopt");
            boolean ok;
            String done;
            if (policy == Policy.RELEASE) {
                // Setting the threshold also stops glibc from raising it as mapped blocks are freed.
                ok = mallopt.invokeInt(new Object[] {M_MMAP_THRESHOLD, RELEASE_MMAP_THRESHOLD}) == 1;
                done = "glibc: buffers from 1 MB mapped and returned when freed";
            } else {
                ok = mallopt.invokeInt(new Object[] {M_MMAP_THRESHOLD, REUSE_MMAP_THRESHOLD}) == 1
                        & mallopt.invokeInt(new Object[] {M_TRIM_THRESHOLD, REUSE_TRIM_THRESHOLD}) == 1
                        & mallopt.invokeInt(new Object[] {M_TOP_PAD, REUSE_TOP_PAD}) == 1;
                done = "glibc: buffers up to 32 MB kept for reuse (" + reuseReason + ")";
            }
            return ok ? done : "system default (mallopt refused the settings)";
        } catch (UnsatisfiedLinkError | RuntimeException e) {
            return "system default (no glibc mallopt: " + e.getMessage() + ")";
        }
    }
}
