package org.zoo4j.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
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
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.zoo4j.base.Configs;
import org.zoo4j.cli.Main;
import org.zoo4j.sweep.SweepStore;

/**
 * The cluster tier ({@code mvn -B -Pspark,cluster test}): a real standalone Spark master and worker, started here as
 * separate JVMs on 127.0.0.1 from the test classpath, and zoo4j's driver in this JVM training LeNet-5 and running a
 * small sweep through them. It fails, never skips, where the cluster cannot start.
 */
@Tag("cluster")
class StandaloneClusterTest {
    @TempDir
    static Path dir;

    private static final List<Process> daemons = new ArrayList<>();
    private static String master;

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    static Process daemon(String name, List<String> args) throws IOException {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString(), "-Xmx256m", "-cp", System.getProperty("java.class.path")));
        command.addAll(SparkClusters.JAVA_OPTIONS);
        command.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(dir.resolve(name + ".log").toFile());
        // A worker without a Spark distribution: SPARK_HOME needs a jars/ folder, and the Scala version is given.
        Path sparkHome = Files.createDirectories(dir.resolve("spark-home/jars")).getParent();
        pb.environment().put("SPARK_HOME", sparkHome.toString());
        pb.environment().put("SPARK_SCALA_VERSION", "2.12");
        pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
        Process p = pb.start();
        daemons.add(p);
        return p;
    }

    @BeforeAll
    static void startCluster() throws Exception {
        int port = freePort();
        master = "spark://127.0.0.1:" + port;
        daemon("master", List.of("org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port",
                Integer.toString(port), "--webui-port", Integer.toString(freePort())));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        boolean up = false;
        while (!up && System.nanoTime() < deadline) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 1000);
                up = true;
            } catch (IOException e) {
                Thread.sleep(500);
            }
        }
        assertTrue(up, "the master did not start: " + Files.readString(dir.resolve("master.log")));
        daemon("worker", List.of("org.apache.spark.deploy.worker.Worker", master, "--host", "127.0.0.1", "--port",
                Integer.toString(freePort()), "--webui-port", Integer.toString(freePort()), "--cores", "2", "--memory",
                "5g", "--work-dir", Files.createDirectories(dir.resolve("work")).toString()));
        // The driver waits for an executor itself (spark.noExecutorTimeout).
    }

    @AfterAll
    static void stopCluster() throws InterruptedException {
        for (int i = daemons.size() - 1; i >= 0; i--) { // the worker (and its executors) first
            Process p = daemons.get(i);
            p.descendants().forEach(ProcessHandle::destroy);
            p.destroy();
            if (!p.waitFor(20, TimeUnit.SECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
            }
        }
    }

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

    @Test
    void leNetTrainsOnTheStandaloneCluster() throws Exception {
        Path run = dir.resolve("run");
        int[] code = new int[1];
        String log = run(code, "train", "--offline", "--subset", "1000", "--epochs", "1", "--batch-size", "32",
                "--spark", master, "--out", run.toString());
        assertEquals(0, code[0], log + "\nworker log:\n" + Files.readString(dir.resolve("worker.log")));
        for (String f : List.of("recipe.yaml", "metrics.csv", "best.zip", "last.zip", "results.json", "train.log")) {
            assertTrue(Files.isRegularFile(run.resolve(f)), f);
        }
        JsonNode results = Configs.json().readTree(run.resolve("results.json").toFile());
        double accuracy = results.at("/testAccuracy").asDouble(Double.NaN);
        assertTrue(accuracy > 0.4, "learns on the cluster (chance is 0.10): " + accuracy);
        assertTrue(Files.readString(run.resolve("train.log")).contains("on " + master), "trained on the cluster");
    }

    @Test
    void aSweepRunsItsTrialsOnTheStandaloneCluster() throws Exception {
        Path file = dir.resolve("tiny.yaml");
        Files.writeString(file, """
                name: tiny
                recipe: training/lenet5-fashion-mnist.yaml
                set: {data.subset: 300, epochs: 1, data.batchSize: 32, data.download: false}
                space:
                  overrides.updater.learningRate: {choice: [0.003, 0.002]}
                budget: {maxTrials: 2}
                strategy: {type: grid}
                """);
        Path root = dir.resolve("sweeps");
        int[] code = new int[1];
        String log = run(code, "sweep", file.toString(), "--dir", root.toString(), "--spark", master);
        assertEquals(0, code[0], log + "\nworker log:\n" + Files.readString(dir.resolve("worker.log")));
        List<SweepStore.Trial> trials = SweepStore.open(root.resolve("tiny")).trials();
        assertEquals(2, trials.size(), trials.toString());
        for (SweepStore.Trial t : trials) {
            assertEquals(SweepStore.State.COMPLETE, t.state(), t.toString());
        }
    }
}
