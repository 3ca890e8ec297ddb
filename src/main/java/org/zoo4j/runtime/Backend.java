package org.zoo4j.runtime;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.Set;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.nd4j.linalg.api.blas.Blas;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.nativeblas.Nd4jCpu;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zoo4j.base.ConfigException;

/**
 * Puts ND4J and DL4J into their fast configuration before first use, and reports what is active.
 *
 * <p>Every entry point of the library (building a model, loading one, the command line) calls {@link #init()} first,
 * so a user gets the fast setup without doing anything. What it does:
 * <ul>
 *   <li>switches DL4J's layer helpers on ({@value #HELPERS_DISABLE}{@code =false}; M2.1 defaults them off), which with
 *       the {@link org.nd4j.nativeblas.Nd4jCpu} shim routes convolution, pooling, batch norm and LRN to oneDNN;</li>
 *   <li>sets glibc's malloc to map native buffers of 1 MB and more on their own, so that freed ones leave the resident
 *       set ({@link NativeMalloc}); where a network's convolutions then take libnd4j's route, which allocates in every
 *       call, to keep buffers for reuse instead ({@link #libnd4jConvolutionRoute});</li>
 *   <li>runs OpenBLAS's matrix products on the calling thread ({@value #BLAS_THREADS}; see
 *       {@link #configureBlasThreads});</li>
 *   <li>on x86-64 picks the oneDNN native build that this CPU can run: the AVX2 build where AVX2 and FMA exist, the
 *       plain oneDNN build otherwise ({@value #PLATFORM_EXTENSION});</li>
 *   <li>on the CUDA build ({@code -Pcuda}) asks for nd4j-cuda's {@code -cudnn} build where cuDNN 8 can be found and
 *       says so where it cannot ({@link #chooseCudaBuild}); {@link BackendInfo#nativeBuild()} is the build that
 *       loaded.</li>
 * </ul>
 * A property the user set on the command line ({@code -D...}) is left as it is.
 */
public final class Backend {
    /** DL4J's switch for cuDNN/oneDNN layer helpers; DL4J M2.1 reads it with a default of "true". */
    public static final String HELPERS_DISABLE = "org.eclipse.deeplearning4j.helpers.disable";
    /** JavaCPP's choice among the native builds on the classpath. */
    public static final String PLATFORM_EXTENSION = "org.bytedeco.javacpp.platform.extension";

    /**
     * Threads for OpenBLAS's matrix products: a count, or "default" for ND4J's choice (as many as its OpenMP threads).
     * Default 1.
     */
    public static final String BLAS_THREADS = "zoo4j.blasThreads";

    private static final Logger log = LoggerFactory.getLogger(Backend.class);
    private static volatile BackendInfo info;
    private static volatile String malloc = "not configured";
    private static boolean mallocForLibnd4j;
    private static volatile String blasThreads = "not configured";
    /** Why the CUDA build was chosen as it was, where that needs saying; else empty. */
    private static volatile String buildNote = "";

    private Backend() {
    }

    /** Configures and loads the backend once; later calls return at once. */
    public static BackendInfo init() {
        BackendInfo current = info;
        if (current != null) {
            return current;
        }
        synchronized (Backend.class) {
            if (info == null) {
                malloc = NativeMalloc.configure(System.getenv());
                if (System.getProperty(HELPERS_DISABLE) == null) {
                    System.setProperty(HELPERS_DISABLE, "false");
                }
                if (System.getProperty(PLATFORM_EXTENSION) == null) {
                    String extension = chooseNativeBuild();
                    if (extension != null) {
                        System.setProperty(PLATFORM_EXTENSION, extension);
                    }
                }
                try {
                    blasThreads = configureBlasThreads(System.getProperty(BLAS_THREADS));
                    info = describe();
                } catch (LinkageError | RuntimeException e) {
                    if (cudaBuildPresent("") || cudaBuildPresent("-cudnn")) {
                        throw new IllegalStateException("ND4J's CUDA backend did not start (" + e + "): "
                                + CudaLibraries.diagnosis(), e);
                    }
                    throw e;
                }
                log.info("{}; native malloc {}; BLAS threads {}", info.summary(), malloc, blasThreads);
                for (GpuInfo.Device d : info.gpu().devices()) {
                    if (d.major() > 8 || d.major() < 3 || (d.major() == 3 && d.minor() < 7)) {
                        log.warn("GPU {} ({}) has compute capability {}: nd4j-cuda-11.6 1.0.0-M2.1 holds kernels for "
                                + "3.7 to 8.6 only (and no PTX), so its operations will fail on it with 'no kernel "
                                + "image is available for execution on the device'", d.index(), d.name(),
                                d.computeCapability());
                    }
                }
                if (!info.helpersEnabled()) {
                    log.warn("DL4J layer helpers are off ({}={}): convolutions run DL4J's slow built-in code",
                            HELPERS_DISABLE, System.getProperty(HELPERS_DISABLE));
                }
            }
            return info;
        }
    }

    /**
     * Called where a network's convolutions take libnd4j's route: switches native malloc to buffer reuse once, unless
     * the user chose a policy ({@link NativeMalloc#forLibnd4jConvolution}).
     */
    static synchronized void libnd4jConvolutionRoute() {
        init();
        if (!mallocForLibnd4j) {
            mallocForLibnd4j = true;
            String done = NativeMalloc.forLibnd4jConvolution(System.getenv());
            if (done != null) {
                malloc = done;
                log.info("native malloc {}", done);
            }
        }
    }

    /** How native memory allocation was set up ({@link NativeMalloc}). */
    public static String mallocSettings() {
        init();
        return malloc;
    }

    /** How OpenBLAS's thread count was set ({@link #configureBlasThreads}). */
    public static String blasThreadSettings() {
        init();
        return blasThreads;
    }

    /**
     * Sets OpenBLAS's thread count. OpenBLAS keeps its own pool beside libnd4j's OpenMP threads, and its idle workers
     * spin and yield for a while after each product, taking cores from the OpenMP threads in the middle of their
     * parallel regions. On 2 cores a quarter of LeNet-5's training steps took 30 to 360 ms against a median of 7.9 ms;
     * one BLAS thread trained LeNet-5 1.80x as fast (training/benchmarks/README.md). A user whose time goes to very large
     * matrix products on many cores can ask for more.
     */
    static String configureBlasThreads(String setting) {
        Blas blas = Nd4j.factory().blas();
        if (blas.getBlasVendor() != Blas.Vendor.OPENBLAS) {
            return "left to " + blas.getBlasVendor() + " (the setting is for OpenBLAS)";
        }
        if ("default".equals(setting)) {
            return blas.getMaxThreads() + " (ND4J's choice, " + BLAS_THREADS + "=default)";
        }
        int threads = 1;
        if (setting != null) {
            try {
                threads = Integer.parseInt(setting.trim());
            } catch (NumberFormatException e) {
                threads = 0;
            }
            if (threads < 1) {
                throw new ConfigException(BLAS_THREADS + "=" + setting
                        + " is not a thread count: give a whole number of at least 1, or \"default\"");
            }
        }
        blas.setMaxThreads(threads);
        return String.valueOf(blas.getMaxThreads());
    }

    /** The native build to load, or null to let JavaCPP decide (non-x86 platforms, or none of ours on the classpath). */
    static String chooseNativeBuild() {
        boolean cudnnBuild = cudaBuildPresent("-cudnn");
        if (cudnnBuild || cudaBuildPresent("")) {
            CudaChoice choice = chooseCudaBuild(cudnnBuild, cudaBuildPresent(""),
                    CudaLibraries.locate("libcudnn.so.8").map(CudaLibraries.Found::where).orElse(null));
            buildNote = choice.note();
            if (!choice.note().isEmpty()) {
                log.warn(choice.note());
            }
            return choice.extension();
        }
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        if (!arch.equals("amd64") && !arch.equals("x86_64")) {
            return null;
        }
        boolean avx2 = CpuFeatures.detect().has("avx2") && CpuFeatures.detect().has("fma");
        String[] preference = avx2
                ? new String[] {"-onednn-avx512", "-onednn-avx2", "-onednn"}
                : new String[] {"-onednn"};
        boolean avx512 = CpuFeatures.detect().has("avx512f") && CpuFeatures.detect().has("avx512bw");
        for (String extension : preference) {
            if (extension.equals("-onednn-avx512") && !avx512) {
                continue;
            }
            if (nativeBuildPresent(extension)) {
                return extension;
            }
        }
        return null;
    }

    /** A choice of nd4j-cuda build: the platform extension (null: the plain build) and what the user should know. */
    record CudaChoice(String extension, String note) {
    }

    /**
     * nd4j-cuda's build. Left to itself JavaCPP tries the {@code -cudnn} build and then the plain one (Nd4jCuda's
     * platform extensions are {@code [-cudnn, ""]}), silently. The {@code -cudnn} build's libnd4jcuda.so links
     * libcudnn.so.8 and cannot load without it; where cuDNN is missing and the plain build is there, that one runs
     * (libnd4j's own convolution, pooling and batch-norm kernels), and this says so before anything loads.
     *
     * @param cudnnBuild whether the {@code -cudnn} build is on the class path
     * @param plainBuild whether the plain build is
     * @param cudnnFound where libcudnn.so.8 was found, or null
     */
    static CudaChoice chooseCudaBuild(boolean cudnnBuild, boolean plainBuild, String cudnnFound) {
        if (!cudnnBuild) {
            return new CudaChoice(null, "");
        }
        if (cudnnFound != null || !plainBuild) {
            return new CudaChoice("-cudnn", cudnnFound != null ? "" : "cuDNN 8 (libcudnn.so.8) was not found on the "
                    + "class path or the library path; the -cudnn build will fail to load. Install cuDNN 8.3+ for CUDA "
                    + "11 or build with -Pcuda,cuda-redist");
        }
        return new CudaChoice(null, "cuDNN 8 (libcudnn.so.8) was not found on the class path or the library path: "
                + "running nd4j-cuda's build without cuDNN (libnd4j's own convolution kernels). Install cuDNN 8.3+ "
                + "for CUDA 11, or build with -Pcuda,cuda-redist, for the cuDNN build");
    }

    /**
     * The nd4j-cuda build that JavaCPP loaded, from the paths of the loaded libraries ({@code
     * .../bindings/linux-x86_64-cudnn/libjnind4jcuda.so}): its platform extension, "" for the plain build, or
     * "unknown".
     */
    static String loadedCudaBuild(Collection<String> loadedPaths) {
        String platform = Loader.getPlatform();
        for (String path : loadedPaths) {
            Path p = Path.of(path);
            if (p.getFileName() != null && p.getFileName().toString().equals(System.mapLibraryName("jnind4jcuda"))
                    && p.getParent() != null) {
                String dir = p.getParent().getFileName().toString();
                return dir.startsWith(platform) ? dir.substring(platform.length()) : "unknown";
            }
        }
        return "unknown";
    }

    private static boolean cudaBuildPresent(String extension) {
        String resource = "org/nd4j/linalg/jcublas/bindings/" + Loader.getPlatform() + extension + "/"
                + System.mapLibraryName("jnind4jcuda");
        return Backend.class.getClassLoader().getResource(resource) != null;
    }

    private static boolean nativeBuildPresent(String extension) {
        String platform = Loader.getPlatform();
        String resource = "org/nd4j/linalg/cpu/nativecpu/bindings/" + platform + extension + "/"
                + System.mapLibraryName("jnind4jcpu");
        return Backend.class.getClassLoader().getResource(resource) != null;
    }

    private static BackendInfo describe() {
        Properties env = Nd4j.getExecutioner().getEnvironmentInformation();
        String backend = String.valueOf(env.getOrDefault("backend", "unknown"));
        boolean oneDnn = "CPU".equalsIgnoreCase(backend)
                && Nd4jCpu.Environment.getInstance().isUseMKLDNN();
        boolean helpers = !Boolean.parseBoolean(System.getProperty(HELPERS_DISABLE, "true"));
        String build = System.getProperty(PLATFORM_EXTENSION, "");
        if ("CUDA".equalsIgnoreCase(backend)) {
            String loaded = loadedCudaBuild(Loader.getLoadedLibraries().values());
            build = loaded.equals("unknown") ? build : loaded;
        }
        return new BackendInfo(backend, build, String.valueOf(env.getOrDefault("blas.vendor", "unknown")), oneDnn,
                helpers, Runtime.getRuntime().availableProcessors(), Nd4j.getEnvironment().maxMasterThreads(),
                Runtime.getRuntime().maxMemory(), Pointer.maxBytes(), GpuInfo.describe(env, build, buildNote), env);
    }

    /** CPU feature flags as the OS reports them (Linux /proc/cpuinfo); empty where unknown. */
    record CpuFeatures(Set<String> flags) {
        private static volatile CpuFeatures detected;

        static CpuFeatures detect() {
            if (detected == null) {
                Set<String> flags = new HashSet<>();
                Path cpuinfo = Path.of("/proc/cpuinfo");
                if (Files.isReadable(cpuinfo)) {
                    try (var lines = Files.lines(cpuinfo)) {
                        lines.filter(l -> l.startsWith("flags")).findFirst().ifPresent(
                                l -> flags.addAll(List.of(l.substring(l.indexOf(':') + 1).trim().split("\\s+"))));
                    } catch (IOException | RuntimeException e) {
                        // unknown: the caller falls back to the safest build
                    }
                } else {
                    // Not Linux: trust the build chosen at packaging time (AVX2 is on every x86-64 Mac and recent PC).
                    flags.addAll(List.of("avx2", "fma"));
                }
                detected = new CpuFeatures(flags);
            }
            return detected;
        }

        boolean has(String flag) {
            return flags.contains(flag);
        }
    }
}
