package org.zoo4j.runtime;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;

/**
 * The GPU side of the backend, for {@code ./zoo4j info} and the start-up log: the devices ND4J's CUDA backend sees
 * (name, compute capability, memory), the NVIDIA driver and cuDNN. On the CPU build there is no GPU, which
 * {@link #summary()} says, with the driver where one is installed (a GPU machine running the CPU build).
 *
 * @param cuda     whether the CUDA backend runs
 * @param devices  the GPUs it sees, in ND4J's order (device 0 first); empty on the CPU build
 * @param driver   the NVIDIA kernel driver's version, or null where none is installed
 * @param cudnn    cuDNN as used: its version, "not used (...)" or "none (CPU backend)"
 * @param note     why a build was chosen (e.g. cuDNN missing, so the build without it runs), or empty
 */
public record GpuInfo(boolean cuda, List<Device> devices, String driver, String cudnn, String note) {
    /** One GPU as ND4J reports it ({@code cuda.devicesInformation}). */
    public record Device(int index, String name, int major, int minor, long totalBytes, long freeBytes) {
        public String computeCapability() {
            return major + "." + minor;
        }
    }

    public GpuInfo {
        devices = List.copyOf(devices);
        note = note == null ? "" : note;
    }

    /** The CPU backend: no GPU in use. */
    public static GpuInfo cpu(String driver) {
        return new GpuInfo(false, List.of(), driver, "none (CPU backend)", "");
    }

    /**
     * Reads the devices from ND4J's environment information: the CUDA backend puts a list of maps under
     * {@code cuda.devicesInformation} (keys {@code cuda.deviceName}, {@code cuda.deviceMajor}, {@code cuda.deviceMinor},
     * {@code cuda.totalMemory}, {@code cuda.freeMemory}).
     */
    static List<Device> devices(Properties environment) {
        List<Device> out = new ArrayList<>();
        if (environment.get("cuda.devicesInformation") instanceof List<?> list) {
            for (int i = 0; i < list.size(); i++) {
                if (list.get(i) instanceof Map<?, ?> m) {
                    out.add(new Device(i, String.valueOf(m.get("cuda.deviceName")), number(m.get("cuda.deviceMajor")),
                            number(m.get("cuda.deviceMinor")), longNumber(m.get("cuda.totalMemory")),
                            longNumber(m.get("cuda.freeMemory"))));
                }
            }
        }
        return out;
    }

    private static int number(Object o) {
        return o instanceof Number n ? n.intValue() : -1;
    }

    private static long longNumber(Object o) {
        return o instanceof Number n ? n.longValue() : -1;
    }

    /** cuDNN's version as cudnnGetVersion() gives it (8302 = 8.3.2), read through JavaCPP's CUDA presets; or null. */
    static String cudnnVersion() {
        try {
            Class<?> cudnn = Class.forName("org.bytedeco.cuda.global.cudnn");
            long v = ((Number) cudnn.getMethod("cudnnGetVersion").invoke(null)).longValue();
            return v / 1000 + "." + (v % 1000) / 100 + "." + v % 100;
        } catch (ReflectiveOperationException | LinkageError | RuntimeException e) {
            return null;
        }
    }

    /** One line: the GPUs, driver and cuDNN, or that there is no GPU. */
    public String summary() {
        if (!cuda) {
            return "no GPU (CPU backend" + (driver != null ? "; NVIDIA driver " + driver
                    + " installed: build with -Pcuda to use the GPU" : "") + ")";
        }
        if (devices.isEmpty()) {
            return "CUDA backend but no GPU visible" + (driver != null ? " (driver " + driver + ")" : "");
        }
        List<String> parts = new ArrayList<>();
        for (Device d : devices) {
            parts.add(String.format(Locale.ROOT, "GPU %d %s (compute %s, %s memory)", d.index(), d.name(),
                    d.computeCapability(), gib(d.totalBytes())));
        }
        return String.join(", ", parts) + "; driver " + (driver == null ? "unknown" : driver) + "; cuDNN " + cudnn;
    }

    static String gib(long bytes) {
        return bytes < 0 ? "unknown" : String.format(Locale.ROOT, "%.1f GiB", bytes / (1024.0 * 1024 * 1024));
    }

    static GpuInfo describe(Properties environment, String nativeBuild, String note) {
        String driver = CudaLibraries.driverVersion();
        if (!"CUDA".equalsIgnoreCase(String.valueOf(environment.getOrDefault("backend", "")))) {
            return cpu(driver);
        }
        String cudnn;
        if ("-cudnn".equals(nativeBuild)) {
            String v = cudnnVersion();
            cudnn = v != null ? v : "in use (build -cudnn; version not readable)";
        } else if (nativeBuild.isEmpty()) {
            cudnn = "not used (the build without cuDNN runs)";
        } else {
            cudnn = "unknown (nd4j-cuda build " + nativeBuild + ")";
        }
        return new GpuInfo(true, devices(environment), driver, cudnn, note);
    }
}
