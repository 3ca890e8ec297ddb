package org.zoo4j.bench;

import java.util.Arrays;
import java.util.Locale;

/** One measured figure: images per second over the repeats, and this process's peak memory so far. */
public record Result(String network, String mode, int batch, int threads, double[] imagesPerSecond,
                     long peakHeapBytes, long peakRssBytes, long offHeapBytes) {
    public static final String CSV_HEADER = "framework,network,mode,batch,threads,repeats,median_ips,min_ips,max_ips,"
            + "peak_heap_mb,peak_rss_mb,offheap_mb";

    public double median() {
        double[] s = imagesPerSecond.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    public double min() {
        return Arrays.stream(imagesPerSecond).min().orElse(Double.NaN);
    }

    public double max() {
        return Arrays.stream(imagesPerSecond).max().orElse(Double.NaN);
    }

    /** The same figures under another mode name (e.g. fit-raw for raw DL4J's fit). */
    public Result withMode(String name) {
        return new Result(network, name, batch, threads, imagesPerSecond, peakHeapBytes, peakRssBytes, offHeapBytes);
    }

    public String csv() {
        return String.format(Locale.ROOT, "zoo4j,%s,%s,%d,%d,%d,%.1f,%.1f,%.1f,%.0f,%.0f,%.0f", network, mode, batch,
                threads, imagesPerSecond.length, median(), min(), max(), peakHeapBytes / 1048576.0,
                peakRssBytes / 1048576.0, offHeapBytes / 1048576.0);
    }
}
