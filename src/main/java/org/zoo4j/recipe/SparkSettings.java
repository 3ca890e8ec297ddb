package org.zoo4j.recipe;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Pattern;
import org.zoo4j.base.Choices;
import org.zoo4j.base.ConfigException;

/**
 * Data-parallel training on a Spark cluster with DL4J's training masters: the {@code spark:} section of a recipe, also
 * set by {@code ./zoo4j train RECIPE --spark MASTER}. It needs the Spark build ({@code ZOO4J_MVN_ARGS=-Pspark ./zoo4j}).
 * One epoch is one Spark job (a few, with parameter averaging); the driver keeps the run directory as a local run
 * does, and evaluates validation and test data itself. Every setting but {@code master} has a default.
 *
 * @param master             where to train, as Spark's master URL: {@code local[N]} (N tasks in this JVM),
 *                           {@code spark://HOST:PORT} (a standalone cluster), {@code yarn} or {@code k8s://...} (under
 *                           spark-submit, which then decides); null or blank = not on Spark
 * @param trainingMaster     {@code averaging} (default): DL4J's ParameterAveragingTrainingMaster. Each worker trains
 *                           {@code averagingFrequency} batches on its own copy of the network, then the driver averages
 *                           parameters and updater state and sends them out again: synchronous, and a lost executor's
 *                           batches are simply trained again elsewhere. {@code sharing}: DL4J's SharedTrainingMaster,
 *                           gradient sharing with threshold encoding (Strom 2015): after every batch each worker sends
 *                           only its update's elements above a threshold, quantised to +-threshold, to the others over UDP
 *                           (Aeron), keeping the rest as a residual for later; asynchronous, far less traffic for large
 *                           models, but it cannot continue once an executor is lost
 * @param workers            tasks that train at once (DL4J's numWorkers); 0 (default) = Spark's default parallelism:
 *                           N of {@code local[N]}, the executors' cores on a cluster
 * @param averagingFrequency batches each worker trains between two averagings ({@code averaging}; default 5). Larger
 *                           means less communication and more drift between the copies
 * @param threshold          the starting threshold of gradient sharing's encoding, adapted as training goes so that
 *                           about 1/1000 of the elements are sent ({@code sharing}; default 1e-3)
 * @param prefetch           batches each worker prepares ahead of training (default 2)
 * @param data               {@code pipeline} (default): each executor builds its own batches with the recipe's data
 *                           pipeline (augmentation included, seeded by epoch and batch number, so a batch is the same
 *                           whichever worker builds it); the dataset's files must be readable on every worker
 *                           ({@code data.path} on a shared filesystem, or the same dataset where zoo4j finds it on each
 *                           host). {@code export}: the driver writes each epoch's batches to {@code exportDirectory}, a
 *                           folder every worker can read, and the executors train on those files
 * @param exportDirectory    where {@code data: export} writes batches; null = {@code spark-export/} in the run directory
 * @param executorMemory     memory of each executor JVM ({@code spark.executor.memory}, default 2g); ND4J's native
 *                           memory is limited to the same. A model that cannot fit is refused before anything starts
 * @param executorCores      cores of each executor ({@code spark.executor.cores}); 0 (default) = Spark's default (on a
 *                           standalone cluster: all of a worker's cores)
 * @param threadsPerTask     ND4J (OpenMP) threads of each training task (default 1): tasks share an executor's cores,
 *                           and more threads than cores makes ND4J's threads spin against each other
 * @param port               UDP port of the gradient-sharing parameter server on the driver ({@code sharing}; default
 *                           40123); each executor takes a free port of its own
 * @param networkMask        for gradient sharing across hosts: the network (e.g. 10.0.0.0/16) whose address each host
 *                           gives the others; null = the driver's address, and loopback on one host
 * @param classpath          how standalone executors get zoo4j's jars: {@code shared} (the same target/zoo4j.jar and
 *                           target/lib/ paths exist on every worker: one machine, or an installed copy), {@code ship}
 *                           (the driver sends them; each executor downloads them once), or {@code auto} (default:
 *                           shared when the master is on this host, else ship). Not used under spark-submit
 * @param noExecutorTimeout  seconds a Spark job may wait with no executor at all (a lost worker, a cluster without
 *                           free cores) before the run stops with an error; its last checkpoint is kept (default 120)
 * @param conf               any other Spark setting, set as given (e.g. {@code spark.executor.instances: 4})
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record SparkSettings(String master, Mode trainingMaster, int workers, int averagingFrequency, double threshold,
                            int prefetch, DataSource data, String exportDirectory, String executorMemory,
                            int executorCores, int threadsPerTask, int port, String networkMask, Classpath classpath,
                            int noExecutorTimeout, Map<String, String> conf) {

    /** DL4J's two Spark training masters. */
    public enum Mode {
        /** ParameterAveragingTrainingMaster. */
        AVERAGING,
        /** SharedTrainingMaster (gradient sharing). */
        SHARING;

        @Override
        public String toString() {
            return Choices.name(this);
        }
    }

    /** Where executors get their batches from. */
    public enum DataSource {
        PIPELINE,
        EXPORT;

        @Override
        public String toString() {
            return Choices.name(this);
        }
    }

    /** How standalone executors get zoo4j's classes. */
    public enum Classpath {
        AUTO,
        SHARED,
        SHIP;

        @Override
        public String toString() {
            return Choices.name(this);
        }
    }

    private static final Pattern MEMORY = Pattern.compile("(?i)\\d+[kmgt]?");
    /** Spark's in-process masters: local, local[N], local[*], local[N,F], local[*,F], local-cluster[N,C,M]. */
    private static final Pattern LOCAL = Pattern.compile("local(\\[(\\*|\\d+)(,\\s*\\d+)?])?|local-cluster\\[.*]");

    public SparkSettings {
        master = master == null || master.isBlank() ? null : master.trim();
        trainingMaster = trainingMaster == null ? Mode.AVERAGING : trainingMaster;
        data = data == null ? DataSource.PIPELINE : data;
        classpath = classpath == null ? Classpath.AUTO : classpath;
        executorMemory = executorMemory == null || executorMemory.isBlank() ? "2g" : executorMemory.trim();
        exportDirectory = exportDirectory == null || exportDirectory.isBlank() ? null : exportDirectory.trim();
        networkMask = networkMask == null || networkMask.isBlank() ? null : networkMask.trim();
        conf = conf == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(conf));
        if (master != null && !(LOCAL.matcher(master).matches() || master.startsWith("spark://")
                || master.equals("yarn") || master.startsWith("k8s://") || master.startsWith("mesos://"))) {
            throw new ConfigException("spark.master: a Spark master URL such as local[2], spark://HOST:7077, yarn or "
                    + "k8s://https://HOST:PORT; got '" + master + "'");
        }
        if (workers < 0) {
            throw new ConfigException("spark.workers: 0 (Spark's default parallelism) or more, got " + workers);
        }
        if (averagingFrequency < 1) {
            throw new ConfigException("spark.averagingFrequency: at least 1 batch, got " + averagingFrequency);
        }
        if (!(threshold > 0 && Double.isFinite(threshold))) {
            throw new ConfigException("spark.threshold: a positive number such as 1e-3, got " + threshold);
        }
        if (prefetch < 0) {
            throw new ConfigException("spark.prefetch: 0 or more batches, got " + prefetch);
        }
        if (!MEMORY.matcher(executorMemory).matches()) {
            throw new ConfigException("spark.executorMemory: a size such as 2g or 1536m, got '" + executorMemory + "'");
        }
        if (executorCores < 0 || threadsPerTask < 1) {
            throw new ConfigException("spark.executorCores: 0 (Spark's default) or more, and spark.threadsPerTask: 1 or "
                    + "more; got " + executorCores + " and " + threadsPerTask);
        }
        if (port < 1024 || port > 65535) {
            throw new ConfigException("spark.port: a UDP port from 1024 to 65535, got " + port);
        }
        if (noExecutorTimeout < 1) {
            throw new ConfigException("spark.noExecutorTimeout: at least 1 second, got " + noExecutorTimeout);
        }
        for (String key : conf.keySet()) {
            if (!key.startsWith("spark.")) {
                throw new ConfigException("spark.conf: Spark settings start with 'spark.', got '" + key + "'");
            }
        }
    }

    /** The YAML/JSON form: every field may be left out and takes its default. */
    @JsonCreator
    static SparkSettings fromMap(@JsonProperty("master") String master,
                                 @JsonProperty("trainingMaster") Mode trainingMaster,
                                 @JsonProperty("workers") Integer workers,
                                 @JsonProperty("averagingFrequency") Integer averagingFrequency,
                                 @JsonProperty("threshold") Double threshold, @JsonProperty("prefetch") Integer prefetch,
                                 @JsonProperty("data") DataSource data,
                                 @JsonProperty("exportDirectory") String exportDirectory,
                                 @JsonProperty("executorMemory") String executorMemory,
                                 @JsonProperty("executorCores") Integer executorCores,
                                 @JsonProperty("threadsPerTask") Integer threadsPerTask,
                                 @JsonProperty("port") Integer port, @JsonProperty("networkMask") String networkMask,
                                 @JsonProperty("classpath") Classpath classpath,
                                 @JsonProperty("noExecutorTimeout") Integer noExecutorTimeout,
                                 @JsonProperty("conf") Map<String, String> conf) {
        return new SparkSettings(master, trainingMaster, workers == null ? 0 : workers,
                averagingFrequency == null ? 5 : averagingFrequency, threshold == null ? 1e-3 : threshold,
                prefetch == null ? 2 : prefetch, data, exportDirectory, executorMemory,
                executorCores == null ? 0 : executorCores, threadsPerTask == null ? 1 : threadsPerTask,
                port == null ? 40123 : port, networkMask, classpath, noExecutorTimeout == null ? 120 : noExecutorTimeout,
                conf);
    }

    /** The defaults, on {@code master}. */
    public static SparkSettings on(String master) {
        return fromMap(master, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null);
    }

    /** Whether a run with these settings trains on Spark (a master is set). */
    public boolean active() {
        return master != null;
    }

    /** {@code executorMemory} in bytes. */
    public long executorMemoryBytes() {
        return bytes(executorMemory);
    }

    /** A Spark/JVM size ("2g", "1536m", "512k", a plain number of bytes) in bytes. */
    public static long bytes(String size) {
        String s = size.trim().toLowerCase(java.util.Locale.ROOT);
        char unit = s.charAt(s.length() - 1);
        long scale = switch (unit) {
            case 'k' -> 1L << 10;
            case 'm' -> 1L << 20;
            case 'g' -> 1L << 30;
            case 't' -> 1L << 40;
            default -> 1;
        };
        return Long.parseLong(Character.isDigit(unit) ? s : s.substring(0, s.length() - 1)) * scale;
    }

    public SparkSettings withMaster(String m) {
        return new SparkSettings(m, trainingMaster, workers, averagingFrequency, threshold, prefetch, data,
                exportDirectory, executorMemory, executorCores, threadsPerTask, port, networkMask, classpath,
                noExecutorTimeout, conf);
    }

    public SparkSettings withConf(String key, String value) {
        Map<String, String> c = new LinkedHashMap<>(conf);
        c.put(key, value);
        return new SparkSettings(master, trainingMaster, workers, averagingFrequency, threshold, prefetch, data,
                exportDirectory, executorMemory, executorCores, threadsPerTask, port, networkMask, classpath,
                noExecutorTimeout, c);
    }
}
