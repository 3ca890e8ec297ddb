package org.zoo4j.runtime;

import java.util.Properties;

/**
 * What the running backend is: what {@code ./zoo4j info} prints and {@link Backend#init()} logs once.
 *
 * @param backend        ND4J's backend name, "CPU" or "CUDA"
 * @param nativeBuild    the native build's platform extension, such as "-onednn-avx2" (empty: JavaCPP's default); on
 *                       CUDA the nd4j-cuda build that loaded, "-cudnn" or empty (the build without cuDNN)
 * @param blasVendor     the BLAS library ND4J reports
 * @param oneDnn         whether libnd4j runs with oneDNN switched on
 * @param helpersEnabled whether DL4J may attach its oneDNN/cuDNN layer helpers
 * @param cores          processors visible to the JVM
 * @param threads        ND4J's thread count for native ops
 * @param maxHeap        JVM heap limit in bytes
 * @param maxOffHeap     JavaCPP's off-heap limit in bytes
 * @param gpu            the GPUs, driver and cuDNN on the CUDA build; "no GPU" on the CPU build
 * @param environment    everything ND4J reports about itself
 */
public record BackendInfo(String backend, String nativeBuild, String blasVendor, boolean oneDnn, boolean helpersEnabled,
                          int cores, int threads, long maxHeap, long maxOffHeap, GpuInfo gpu, Properties environment) {

    /** One line for the log. */
    public String summary() {
        return String.format("ND4J backend %s%s, BLAS %s, oneDNN %s, layer helpers %s, %d threads%s",
                backend, nativeBuild.isEmpty() ? "" : " (build " + nativeBuild.substring(1) + ")", blasVendor,
                oneDnn ? "on" : "off", helpersEnabled && ("CUDA".equalsIgnoreCase(backend) || oneDnn) ? "attached" : "off",
                threads, gpu.cuda() ? "; " + gpu.summary() : "");
    }
}
