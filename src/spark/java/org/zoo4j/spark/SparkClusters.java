package org.zoo4j.spark;

import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.jar.JarFile;
import java.util.jar.Manifest;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zoo4j.base.ConfigException;
import org.zoo4j.recipe.SparkSettings;
import org.zoo4j.runtime.Backend;

/**
 * Starting Spark for zoo4j: the context from a recipe's {@link SparkSettings}, with what DL4J M2's Spark modules and
 * Spark 3.5 on Java 17 need, checks that turn Spark's slow or silent failures into clear errors, and a watchdog for
 * jobs left without executors.
 *
 * <ul>
 *   <li>An unreachable standalone master makes Spark retry for about a minute (3 x 20 s, fixed) and then hand back a
 *       context that is already stopping; a TCP connection is tried first instead (a few seconds at most).</li>
 *   <li>A standalone cluster without a worker that can take the executor (cores, memory) leaves Spark waiting for
 *       ever ("Initial job has not accepted any resources"); the context waits at most {@code noExecutorTimeout}.</li>
 *   <li>When every executor is lost during a job (a killed worker), Spark waits for a new one for ever; the watchdog
 *       cancels the jobs after {@code noExecutorTimeout} seconds and {@link #lostExecutors} says why they failed.</li>
 *   <li>Gradient sharing's Aeron 1.39 refuses DL4J's fixed client liveness timeout (30 s) unless the publication
 *       unblock timeout is larger: set to 60 s on the driver and the executors.</li>
 * </ul>
 */
public final class SparkClusters {
    private static final Logger log = LoggerFactory.getLogger(SparkClusters.class);
    static final String AERON_UNBLOCK = "aeron.publication.unblock.timeout";
    static final String AERON_UNBLOCK_NS = "60000000000";
    /**
     * The module openings Spark needs on Java 17, as Spark 3.5's own launcher gives them (JavaModuleOptions). Spark
     * adds them to every executor it starts; a driver started with plain {@code java} needs them on its command line.
     */
    public static final List<String> JAVA_OPTIONS = List.of("--add-opens=java.base/java.lang=ALL-UNNAMED",
            "--add-opens=java.base/java.lang.invoke=ALL-UNNAMED", "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
            "--add-opens=java.base/java.io=ALL-UNNAMED", "--add-opens=java.base/java.net=ALL-UNNAMED",
            "--add-opens=java.base/java.nio=ALL-UNNAMED", "--add-opens=java.base/java.util=ALL-UNNAMED",
            "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
            "--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED",
            "--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED", "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
            "--add-opens=java.base/sun.nio.cs=ALL-UNNAMED", "--add-opens=java.base/sun.security.action=ALL-UNNAMED",
            "--add-opens=java.base/sun.util.calendar=ALL-UNNAMED", "-Djdk.reflect.useDirectMethodHandle=false");
    private static final Pattern LOCAL = Pattern.compile("local(\\[(\\*|\\d+)(,\\s*\\d+)?])?");

    /** A started context, with the watchdog that cancels jobs when no executor is left. */
    public static final class Cluster implements AutoCloseable {
        private final JavaSparkContext sc;
        private final String master;
        private final int noExecutorTimeout;
        private final AtomicBoolean lost = new AtomicBoolean();
        private final Thread watchdog;

        Cluster(JavaSparkContext sc, String master, int noExecutorTimeout) {
            this.sc = sc;
            this.master = master;
            this.noExecutorTimeout = noExecutorTimeout;
            this.watchdog = isLocal(master) ? null : startWatchdog();
        }

        public JavaSparkContext context() {
            return sc;
        }

        public String master() {
            return master;
        }

        /** Whether the tasks run in this JVM ({@code local[N]}). */
        public boolean local() {
            return isLocal(master);
        }

        /** Task slots: N of local[N], or the executors' cores of a cluster. */
        public int slots() {
            return sc.defaultParallelism();
        }

        /**
         * Whether the watchdog cancelled jobs because no executor was left, since the last call; the error to give
         * then is {@link #lostMessage}.
         */
        public boolean lostExecutors() {
            return lost.getAndSet(false);
        }

        public String lostMessage() {
            return "spark: the cluster " + master + " had no executor for " + noExecutorTimeout + " s (a worker was lost "
                    + "or killed, or none has the free cores and memory asked for), so the job was cancelled. Start "
                    + "workers for it (or lower spark.executorMemory)";
        }

        /** Executors registered now, the driver not counted. */
        public int executors() {
            return Math.max(0, sc.sc().statusTracker().getExecutorInfos().length - 1);
        }

        private Thread startWatchdog() {
            Thread t = new Thread(() -> {
                long since = -1;
                while (!sc.sc().isStopped()) {
                    long now = System.currentTimeMillis();
                    boolean busy = sc.statusTracker().getActiveJobIds().length > 0;
                    if (executors() > 0 || !busy) {
                        since = -1;
                    } else if (since < 0) {
                        since = now;
                    } else if (now - since > noExecutorTimeout * 1000L) {
                        log.warn("no executor for {} s: cancelling the running jobs", noExecutorTimeout);
                        lost.set(true);
                        sc.cancelAllJobs();
                        since = -1;
                    }
                    try {
                        Thread.sleep(1000);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }, "zoo4j-spark-no-executor-watchdog");
            t.setDaemon(true);
            t.start();
            return t;
        }

        @Override
        public void close() {
            if (watchdog != null) {
                watchdog.interrupt();
            }
            sc.stop();
        }
    }

    private SparkClusters() {
    }

    static boolean isLocal(String master) {
        return master.startsWith("local");
    }

    /** Whether this JVM was started by spark-submit, which then decides the master, the jars and the executors. */
    static boolean submitted() {
        return System.getProperty("spark.master") != null && System.getProperty("spark.app.name") != null;
    }

    /** Tasks in this JVM for {@code local}, {@code local[N]}, {@code local[*]}, {@code local[N,F]}; 0 if not local. */
    static int localSlots(String master) {
        Matcher m = LOCAL.matcher(master.replace(" ", ""));
        if (!m.matches()) {
            return 0;
        }
        if (m.group(2) == null) {
            return 1;
        }
        return m.group(2).equals("*") ? Runtime.getRuntime().availableProcessors() : Integer.parseInt(m.group(2));
    }

    /**
     * Checks that the master named by {@code settings} can be used from here, without starting anything: this JVM
     * has the module options Spark needs, and a standalone master answers on its port.
     */
    static void preflight(SparkSettings settings) {
        if (!Object.class.getModule().isOpen("sun.nio.ch", SparkClusters.class.getModule())) {
            throw new ConfigException("spark: this JVM lacks the module options Spark needs on Java 17; run zoo4j with "
                    + "./zoo4j (which gives them), or add to the java command: " + String.join(" ", JAVA_OPTIONS));
        }
        String master = settings.master();
        if (submitted()) {
            return;
        }
        if (isLocal(master)) {
            if (localSlots(master) < 1) {
                throw new ConfigException("spark.master: local, local[N], local[*] or local[N,F] (F: attempts per "
                        + "task), with N at least 1; got '" + master + "'");
            }
            return;
        }
        if (!master.startsWith("spark://")) {
            throw new ConfigException("spark.master: " + master + " is started by spark-submit: run zoo4j's jar with "
                    + "spark-submit --master " + master + " (see the README's Spark section), or use local[N] or "
                    + "spark://HOST:PORT here");
        }
        List<String> failures = new ArrayList<>();
        for (String hostPort : master.substring("spark://".length()).split(",")) {
            int colon = hostPort.lastIndexOf(':');
            String host = colon > 0 ? hostPort.substring(0, colon) : hostPort;
            int port;
            try {
                port = colon > 0 ? Integer.parseInt(hostPort.substring(colon + 1)) : 7077;
            } catch (NumberFormatException e) {
                throw new ConfigException("spark.master: spark://HOST:PORT, got '" + master + "'");
            }
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(host, port), 5000);
                return;
            } catch (IOException e) {
                failures.add(host + ":" + port + " (" + (e.getMessage() == null ? e.getClass().getSimpleName()
                        : e.getMessage()) + ")");
            }
        }
        throw new ConfigException("spark.master: no Spark master answers at " + String.join(", ", failures)
                + "; start it (Spark's sbin/start-master.sh, or org.apache.spark.deploy.master.Master on zoo4j's "
                + "classpath) or correct --spark");
    }

    /**
     * Starts Spark for {@code settings} (call {@link #preflight} first): on a standalone master it also waits until an
     * executor has registered, at most {@code noExecutorTimeout} seconds.
     */
    public static Cluster start(SparkSettings settings, String appName, PrintStream console) {
        preflight(settings);
        Backend.init();
        if (System.getProperty(AERON_UNBLOCK) == null) {
            System.setProperty(AERON_UNBLOCK, AERON_UNBLOCK_NS);
        }
        SparkConf conf = conf(settings, appName);
        String master = conf.get("spark.master");
        JavaSparkContext sc;
        try {
            sc = new JavaSparkContext(conf);
        } catch (RuntimeException e) {
            throw new ConfigException("spark: could not start Spark on " + master + ": " + e.getMessage(), e);
        }
        Cluster cluster = new Cluster(sc, master, settings.noExecutorTimeout());
        try {
            if (!cluster.local()) {
                awaitExecutor(cluster, settings, console);
            }
        } catch (RuntimeException e) {
            cluster.close();
            throw e;
        }
        return cluster;
    }

    private static void awaitExecutor(Cluster cluster, SparkSettings settings, PrintStream console) {
        long until = System.currentTimeMillis() + settings.noExecutorTimeout() * 1000L;
        boolean told = false;
        while (cluster.executors() == 0) {
            if (cluster.context().sc().isStopped()) {
                throw new ConfigException("spark: the master " + cluster.master() + " refused this application or "
                        + "stopped answering; see its log");
            }
            if (System.currentTimeMillis() > until) {
                throw new ConfigException("spark: no executor started on " + cluster.master() + " within "
                        + settings.noExecutorTimeout() + " s: no worker has " + settings.executorMemory()
                        + " of memory" + (settings.executorCores() > 0 ? " and " + settings.executorCores() + " cores"
                        : "") + " free, or none is registered; start a worker (sbin/start-worker.sh " + cluster.master()
                        + ") or lower spark.executorMemory / spark.executorCores");
            }
            if (!told && System.currentTimeMillis() > until - settings.noExecutorTimeout() * 1000L + 5000) {
                console.println("spark: waiting for an executor on " + cluster.master() + " ...");
                told = true;
            }
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ConfigException("spark: interrupted while waiting for an executor");
            }
        }
    }

    /** The Spark configuration for {@code settings}; settings given by spark-submit are kept. */
    static SparkConf conf(SparkSettings settings, String appName) {
        SparkConf conf = new SparkConf(); // reads spark.* system properties: spark-submit's settings among them
        boolean submitted = submitted();
        String master = settings.master();
        if (!submitted) {
            conf.setMaster(master);
            conf.setAppName(appName);
        } else if (!conf.get("spark.master").equals(master)) {
            log.warn("spark-submit's master {} is used, not {}", conf.get("spark.master"), master);
            master = conf.get("spark.master");
        }
        conf.setIfMissing("spark.ui.enabled", "false");
        conf.setIfMissing("spark.serializer", "org.apache.spark.serializer.KryoSerializer");
        conf.setIfMissing("spark.kryo.registrator", "org.nd4j.kryo.Nd4jRegistrator");
        conf.setIfMissing("spark.locality.wait", "0s");
        // Accumulated losses of running tasks reach the driver with the executors' heartbeats: progress.
        conf.setIfMissing("spark.executor.heartbeatInterval", "2s");
        if (isLocal(master) || loopback(master)) {
            conf.setIfMissing("spark.driver.host", "127.0.0.1");
            conf.setIfMissing("spark.driver.bindAddress", "127.0.0.1");
        }
        if (!isLocal(master)) {
            long memory = settings.executorMemoryBytes();
            conf.setIfMissing("spark.executor.memory", settings.executorMemory());
            // ND4J's arrays live outside the heap: as much again, which YARN and Kubernetes must allow the container.
            conf.setIfMissing("spark.executor.memoryOverhead", Long.toString(Math.max(384, memory >> 20)) + "m");
            if (settings.executorCores() > 0) {
                conf.setIfMissing("spark.executor.cores", Integer.toString(settings.executorCores()));
            }
            conf.setIfMissing("spark.executorEnv.OMP_NUM_THREADS", Integer.toString(settings.threadsPerTask()));
            List<String> options = new ArrayList<>();
            options.add("-D" + AERON_UNBLOCK + "=" + AERON_UNBLOCK_NS);
            options.add("-Dorg.bytedeco.javacpp.maxbytes=" + memory);
            options.add("-Dorg.bytedeco.javacpp.maxphysicalbytes=" + 2 * memory);
            for (String property : List.of(Backend.PLATFORM_EXTENSION, Backend.HELPERS_DISABLE, "zoo4j.layerHelpers",
                    "zoo4j.blasThreads", "zoo4j.nativeMalloc")) {
                String value = System.getProperty(property);
                if (value != null && !value.isBlank() && !value.contains(" ")) {
                    options.add("-D" + property + "=" + value);
                }
            }
            String given = conf.get("spark.executor.extraJavaOptions", "");
            conf.set("spark.executor.extraJavaOptions", (given + " " + String.join(" ", options)).trim());
            if (!submitted) {
                classpath(conf, settings, master);
            }
        }
        for (Map.Entry<String, String> e : settings.conf().entrySet()) {
            conf.set(e.getKey(), e.getValue());
        }
        return conf;
    }

    /** Whether a spark:// master is on this host (every address it names is a loopback one). */
    static boolean loopback(String master) {
        if (!master.startsWith("spark://")) {
            return false;
        }
        for (String hostPort : master.substring("spark://".length()).split(",")) {
            String host = hostPort.contains(":") ? hostPort.substring(0, hostPort.lastIndexOf(':')) : hostPort;
            try {
                if (!InetAddress.getByName(host).isLoopbackAddress()) {
                    return false;
                }
            } catch (UnknownHostException e) {
                return false;
            }
        }
        return true;
    }

    /**
     * zoo4j's classes for standalone executors: the same paths on every worker (one machine, or an installed copy),
     * or the driver's jars shipped to each executor.
     */
    private static void classpath(SparkConf conf, SparkSettings settings, String master) {
        SparkSettings.Classpath mode = settings.classpath();
        if (mode == SparkSettings.Classpath.AUTO) {
            mode = loopback(master) ? SparkSettings.Classpath.SHARED : SparkSettings.Classpath.SHIP;
        }
        List<String> entries = classpathEntries();
        if (mode == SparkSettings.Classpath.SHARED) {
            conf.setIfMissing("spark.executor.extraClassPath", String.join(File.pathSeparator, entries));
        } else {
            // The worker's Spark distribution brings Spark, Scala and Hadoop; zoo4j's other jars travel.
            List<String> jars = new ArrayList<>();
            for (String entry : entries) {
                String name = Path.of(entry).getFileName().toString();
                if (entry.endsWith(".jar") && !name.startsWith("spark-") && !name.startsWith("scala-")
                        && !name.startsWith("hadoop-client")) {
                    jars.add(entry);
                }
            }
            conf.setJars(jars.toArray(new String[0]));
        }
    }

    /**
     * This JVM's classpath as files: a manifest-only jar (as Maven's test runner uses) is read out into the entries
     * its manifest names.
     */
    static List<String> classpathEntries() {
        Set<String> entries = new LinkedHashSet<>();
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            if (entry.isBlank()) {
                continue;
            }
            entries.add(Path.of(entry).toAbsolutePath().toString());
            if (entry.endsWith(".jar") && Files.isRegularFile(Path.of(entry))) {
                try (JarFile jar = new JarFile(entry)) {
                    Manifest manifest = jar.getManifest();
                    String cp = manifest == null ? null : manifest.getMainAttributes().getValue("Class-Path");
                    if (cp != null && jar.size() < 5) { // a manifest-only jar: its entries are the classpath
                        for (String url : cp.trim().split("\\s+")) {
                            entries.add(Path.of(URI.create(url.startsWith("file:") ? url
                                    : Path.of(entry).toAbsolutePath().getParent().toUri().resolve(url).toString()))
                                    .toString());
                        }
                    }
                } catch (IOException | IllegalArgumentException e) {
                    // not readable as a jar: kept as it is
                }
            }
        }
        return new ArrayList<>(entries);
    }

    /** A memory size for messages: 2.1 GB, 512 MB. */
    static String size(long bytes) {
        return bytes >= 1L << 30 ? String.format(Locale.ROOT, "%.1f GB", bytes / (double) (1L << 30))
                : String.format(Locale.ROOT, "%d MB", bytes >> 20);
    }
}
