package org.zoo4j.runtime;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.bytedeco.javacpp.Loader;

/**
 * Where the shared libraries that nd4j-cuda-11.6 1.0.0-M2.1 loads are found, if anywhere, before ND4J tries to load
 * them. Its {@code libnd4jcuda.so} links the CUDA runtime statically but needs {@code libcublas.so.11},
 * {@code libcusolver.so.11} (and through cuBLAS {@code libcublasLt.so.11}) and, in the {@code -cudnn} build,
 * {@code libcudnn.so.8}; ND4J's check that the backend can run ({@code JCublasBackend.canRun}) loads JavaCPP's
 * CUDA runtime bindings, which need {@code libcudart.so.11.0} and the driver's {@code libcuda.so.1}. JavaCPP takes the
 * CUDA libraries from the class path first (the {@code org.bytedeco:cuda:11.6-8.3-1.5.7:linux-x86_64-redist} jar,
 * {@code -Pcuda-redist}) and from the dynamic loader's search path otherwise; the driver always comes from the machine.
 */
public final class CudaLibraries {
    /** Where a library was found: the class path (the redist jar) or a file. */
    public record Found(String library, String where) {
    }

    /** The CUDA 11 libraries that nd4j-cuda-11.6 needs from outside, cuDNN last (the driver's libcuda.so.1 apart). */
    public static final List<String> NEEDED = List.of("libcudart.so.11.0", "libcublas.so.11", "libcublasLt.so.11",
            "libcusolver.so.11", "libcudnn.so.8");

    private CudaLibraries() {
    }

    /** Finds {@code soname} as JavaCPP would: in the CUDA redist jar, then on the loader's search path. */
    public static Optional<Found> locate(String soname) {
        return locate(soname, System.getenv(), CudaLibraries.class.getClassLoader());
    }

    static Optional<Found> locate(String soname, Map<String, String> env, ClassLoader loader) {
        String resource = "org/bytedeco/cuda/" + Loader.getPlatform() + "/" + soname;
        if (loader != null && loader.getResource(resource) != null) {
            return Optional.of(new Found(soname, "class path (" + resource + ")"));
        }
        for (Path dir : searchPath(env)) {
            Path file = dir.resolve(soname);
            if (Files.exists(file)) {
                return Optional.of(new Found(soname, file.toString()));
            }
        }
        return Optional.empty();
    }

    /**
     * The directories the dynamic loader would search, approximately: LD_LIBRARY_PATH, the run path built into
     * libnd4jcuda.so ({@code /usr/local/cuda-11.6/lib64}), the usual CUDA prefix, the directories listed in
     * {@code /etc/ld.so.conf.d}, the system's library directories and {@code java.library.path}.
     */
    static List<Path> searchPath(Map<String, String> env) {
        Set<String> dirs = new LinkedHashSet<>();
        split(env.get("LD_LIBRARY_PATH"), dirs);
        dirs.add("/usr/local/cuda-11.6/lib64");
        dirs.add("/usr/local/cuda/lib64");
        dirs.addAll(ldSoConfDirs(Path.of("/etc/ld.so.conf.d")));
        dirs.addAll(List.of("/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib",
                "/lib"));
        split(System.getProperty("java.library.path"), dirs);
        List<Path> out = new ArrayList<>();
        for (String d : dirs) {
            if (!d.isBlank()) {
                out.add(Path.of(d));
            }
        }
        return out;
    }

    private static void split(String path, Set<String> into) {
        if (path != null) {
            for (String p : path.split(Pattern.quote(File.pathSeparator))) {
                into.add(p.trim());
            }
        }
    }

    /** Directory lines of the {@code *.conf} files in {@code confDir} (includes and comments skipped). */
    static List<String> ldSoConfDirs(Path confDir) {
        List<String> dirs = new ArrayList<>();
        if (!Files.isDirectory(confDir)) {
            return dirs;
        }
        try (Stream<Path> files = Files.list(confDir)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".conf")).sorted().toList()) {
                for (String line : Files.readAllLines(f)) {
                    String l = line.strip();
                    if (l.startsWith("/")) {
                        dirs.add(l);
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            // unreadable: the other directories still count
        }
        return dirs;
    }

    /**
     * What the CUDA build needs from this machine and what is missing, for the message when ND4J's CUDA backend does
     * not start: the driver, each of {@link #NEEDED}, and what to do.
     */
    public static String diagnosis() {
        List<String> missing = new ArrayList<>();
        String driver = driverVersion();
        if (driver == null || locate("libcuda.so.1").isEmpty()) {
            missing.add(driver == null ? "the NVIDIA driver (no /proc/driver/nvidia/version)"
                    : "libcuda.so.1 (the driver's library; driver " + driver + ")");
        }
        for (String lib : NEEDED) {
            if (locate(lib).isEmpty()) {
                missing.add(lib);
            }
        }
        return missing.isEmpty() ? "the driver (" + driver + ") and the CUDA 11 libraries were found; see the cause"
                : "missing: " + String.join(", ", missing) + ". The CUDA build needs an NVIDIA driver >= 450.80.02, a GPU "
                + "of compute capability 3.7 to 8.x, and CUDA 11.x cuBLAS/cuSOLVER/runtime with cuDNN 8 for CUDA 11 "
                + "on the library path, or a build with -Pcuda,cuda-redist (training/benchmarks/README.md, CUDA build)";
    }

    /** The NVIDIA kernel driver's version from {@code /proc/driver/nvidia/version}, or null where there is none. */
    public static String driverVersion() {
        return driverVersion(Path.of("/proc/driver/nvidia/version"));
    }

    static String driverVersion(Path versionFile) {
        try {
            if (!Files.isReadable(versionFile)) {
                return null;
            }
            // "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.159.03  Thu ..."
            var m = Pattern.compile("Kernel Module\\s+(\\d+(\\.\\d+)+)").matcher(Files.readString(versionFile));
            return m.find() ? m.group(1) : "unknown";
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }
}
