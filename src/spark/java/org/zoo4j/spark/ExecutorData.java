package org.zoo4j.spark;

import java.io.Serializable;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import org.zoo4j.base.Configs;
import org.zoo4j.base.InputShape;
import org.zoo4j.data.DataConfig;
import org.zoo4j.data.DataPipeline;
import org.zoo4j.data.Normalization;
import org.zoo4j.runtime.Backend;

/**
 * The data pipelines of an executor JVM: the driver's training data opened again where the executor runs, with the
 * driver's normaliser, so that batch {@code b} of epoch {@code e} is the same image set, augmentation and
 * normalisation on every worker. Opened once per JVM and kept; in {@code local[N]} mode the driver's own pipeline is
 * used.
 */
final class ExecutorData {
    /** What an executor needs to open the driver's data: travels in the tasks. */
    record Spec(String dataConfig, String input, String normalization) implements Serializable {
        static Spec of(DataPipeline data) {
            // Executors never download: a dataset they cannot find is an error that names the folders they searched.
            return new Spec(Configs.toJson(data.config().withDownload(false)), data.shape().toString(),
                    data.normalizer().toJson());
        }

        String id() {
            return dataConfig + "|" + input + "|" + normalization;
        }

        DataPipeline open() {
            return DataPipeline.open(Configs.fromJson(dataConfig, DataConfig.class), InputShape.parse(input),
                    Normalization.fromJson(normalization));
        }
    }

    private static final int KEEP = 2;
    private static final Map<String, DataPipeline> SHARED = new HashMap<>();
    private static final LinkedHashMap<String, DataPipeline> OPENED = new LinkedHashMap<>(4, 0.75f, true);

    private ExecutorData() {
    }

    /** The driver's own pipeline, for tasks that run in its JVM (local[N]). */
    static synchronized void share(Spec spec, DataPipeline data) {
        SHARED.put(spec.id(), data);
    }

    static synchronized void unshare(Spec spec) {
        SHARED.remove(spec.id());
    }

    /** The pipeline for {@code spec} in this JVM, opened on first use. */
    static synchronized DataPipeline pipeline(Spec spec) {
        DataPipeline shared = SHARED.get(spec.id());
        if (shared != null) {
            return shared;
        }
        DataPipeline open = OPENED.get(spec.id());
        if (open == null) {
            Backend.init();
            open = spec.open();
            OPENED.put(spec.id(), open);
            while (OPENED.size() > KEEP) {
                String eldest = OPENED.keySet().iterator().next();
                OPENED.remove(eldest).close();
            }
        }
        return open;
    }

    /**
     * Whether this executor can read the data: null, or what went wrong. Opens the data here; where the driver's
     * pipeline is shared into this JVM, a fresh one is opened and closed, so that the files are read again.
     */
    static String check(Spec spec) {
        try {
            boolean shared;
            synchronized (ExecutorData.class) {
                shared = SHARED.containsKey(spec.id());
            }
            if (shared) {
                Backend.init();
                spec.open().close();
            } else {
                pipeline(spec);
            }
            return null;
        } catch (RuntimeException e) {
            return e.getMessage() == null ? e.toString() : e.getMessage();
        }
    }
}
