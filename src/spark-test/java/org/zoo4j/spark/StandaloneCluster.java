package org.zoo4j.spark;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.zoo4j.cli.Main;

/**
 * A real standalone Spark cluster for the cluster tier: a master and one worker, each a separate JVM on 127.0.0.1
 * started from the test classpath (no Spark distribution needed), logging into {@code dir}. The worker can be killed
 * and started again, as a machine of a real cluster can be lost and come back.
 */
final class StandaloneCluster implements AutoCloseable {
    private final Path dir;
    private final String master;
    private final Process masterProcess;
    private Process worker;
    private int workers;

    private StandaloneCluster(Path dir, String master, Process masterProcess) {
        this.dir = dir;
        this.master = master;
        this.masterProcess = masterProcess;
    }

    /** Starts a master, waits until it accepts connections, and starts a worker with 2 cores and 5 GB. */
    static StandaloneCluster start(Path dir) throws Exception {
        return start(dir, List.of());
    }

    /**
     * As {@link #start(Path)}, with {@code distribution} as the worker's Spark installation ({@code SPARK_HOME/jars}),
     * from which it starts executors: without one, executors need zoo4j's shared classpath setting.
     */
    static StandaloneCluster start(Path dir, List<Path> distribution) throws Exception {
        Path jars = Files.createDirectories(dir.resolve("spark-home/jars"));
        for (Path jar : distribution) {
            Files.createSymbolicLink(jars.resolve(jar.getFileName()), jar);
        }
        int port = freePort();
        String master = "spark://127.0.0.1:" + port;
        Process m = daemon(dir, "master", List.of("org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                "--port", Integer.toString(port), "--webui-port", Integer.toString(freePort())));
        StandaloneCluster cluster = new StandaloneCluster(dir, master, m);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        boolean up = false;
        while (!up && System.nanoTime() < deadline && m.isAlive()) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 1000);
                up = true;
            } catch (IOException e) {
                Thread.sleep(500);
            }
        }
        if (!up) {
            cluster.close();
        }
        assertTrue(up, "the master did not start: " + Files.readString(dir.resolve("master.log")));
        cluster.startWorker();
        return cluster; // the driver waits for an executor itself (spark.noExecutorTimeout)
    }

    String master() {
        return master;
    }

    /** Starts a worker (again); its log is worker-N.log. */
    void startWorker() throws IOException {
        workers++;
        worker = daemon(dir, "worker-" + workers, List.of("org.apache.spark.deploy.worker.Worker", master, "--host",
                "127.0.0.1", "--port", Integer.toString(freePort()), "--webui-port", Integer.toString(freePort()),
                "--cores", "2", "--memory", "5g", "--work-dir",
                Files.createDirectories(dir.resolve("work-" + workers)).toString()));
    }

    /** Kills the worker and its executors at once (SIGKILL), as a lost machine would vanish. */
    void killWorker() throws InterruptedException {
        worker.descendants().forEach(ProcessHandle::destroyForcibly);
        worker.destroyForcibly();
        worker.waitFor(20, TimeUnit.SECONDS);
    }

    /** The current worker's log, for failure messages. */
    String workerLog() {
        try {
            return Files.readString(dir.resolve("worker-" + workers + ".log"));
        } catch (IOException e) {
            return "(no worker log: " + e + ")";
        }
    }

    @Override
    public void close() throws InterruptedException {
        for (Process p : worker == null ? List.of(masterProcess) : List.of(worker, masterProcess)) {
            p.descendants().forEach(ProcessHandle::destroy);
            p.destroy();
            if (!p.waitFor(20, TimeUnit.SECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
            }
        }
    }

    /** Runs the command line in this JVM; its exit code into {@code code[0]}; returns (and prints) its console. */
    static String run(int[] code, String... args) {
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        PrintStream saved = System.out;
        try {
            System.setOut(new PrintStream(console, true, StandardCharsets.UTF_8));
            code[0] = Main.run(args);
        } finally {
            System.setOut(saved);
        }
        String log = console.toString(StandardCharsets.UTF_8);
        System.out.println(log);
        return log;
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** This JVM's java with the module options Spark needs, a heap limit and a class path; the rest to add. */
    static List<String> java(String heap, String classpath) {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString(), "-Xmx" + heap));
        command.addAll(SparkClusters.JAVA_OPTIONS);
        command.addAll(List.of("-cp", classpath));
        return command;
    }

    private static Process daemon(Path dir, String name, List<String> args) throws IOException {
        List<String> command = java("256m", System.getProperty("java.class.path"));
        command.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(dir.resolve(name + ".log").toFile());
        // A worker without a Spark distribution: SPARK_HOME needs a jars/ folder, and the Scala version is given.
        Path sparkHome = Files.createDirectories(dir.resolve("spark-home/jars")).getParent();
        pb.environment().put("SPARK_HOME", sparkHome.toString());
        pb.environment().put("SPARK_SCALA_VERSION", "2.12");
        pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
        return pb.start();
    }
}
