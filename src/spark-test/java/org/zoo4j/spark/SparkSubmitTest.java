package org.zoo4j.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.zoo4j.base.Configs;

/**
 * The cluster tier: zoo4j's jar submitted with Spark's own {@code SparkSubmit} (client mode) to a standalone cluster
 * whose worker has a Spark installation, as training/README.md's spark-submit section says: zoo4j's dependencies by
 * {@code --jars} without Spark, Scala and Hadoop, the master from spark-submit. LeNet-5 trains and the driver writes
 * its run directory.
 */
@Tag("cluster")
class SparkSubmitTest {
    @TempDir
    Path dir;

    @Test
    void leNetTrainsUnderSparkSubmit() throws Exception {
        List<Path> classpath = SparkClusters.classpathEntries().stream().map(Path::of).toList();
        List<Path> jars = classpath.stream().filter(p -> p.toString().endsWith(".jar") && Files.isRegularFile(p))
                .toList();
        Path classes = classpath.stream().filter(p -> Files.isDirectory(p) && p.getFileName().toString()
                .equals("classes")).findFirst().orElseThrow(() -> new AssertionError("no classes folder in "
                        + classpath));
        Path app = jar(classes, dir.resolve("zoo4j.jar"));
        List<String> dependencies = new ArrayList<>();
        for (Path jar : jars) {
            String name = jar.getFileName().toString();
            if (!name.startsWith("spark-") && !name.startsWith("scala-") && !name.startsWith("hadoop-client")) {
                dependencies.add(jar.toString());
            }
        }
        try (StandaloneCluster cluster = StandaloneCluster.start(dir, jars)) {
            Path run = dir.resolve("run");
            List<String> command = StandaloneCluster.java("3g", String.join(File.pathSeparator,
                    jars.stream().map(Path::toString).toList()));
            command.addAll(List.of("org.apache.spark.deploy.SparkSubmit", "--master", cluster.master(),
                    "--deploy-mode", "client", "--class", "org.zoo4j.cli.Main", "--jars",
                    String.join(",", dependencies), app.toString(), "train", "--offline", "--subset", "1000",
                    "--epochs", "1", "--batch-size", "32", "--spark", cluster.master(), "--out", run.toString()));
            Path log = dir.resolve("submit.log");
            Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            boolean done = p.waitFor(8, TimeUnit.MINUTES);
            if (!done) {
                p.destroyForcibly();
            }
            String tail = tail(log);
            assertTrue(done, "spark-submit did not finish in 8 minutes:\n" + tail);
            assertEquals(0, p.exitValue(), tail + "\nworker log:\n" + cluster.workerLog());
            JsonNode results = Configs.json().readTree(run.resolve("results.json").toFile());
            double accuracy = results.at("/testAccuracy").asDouble(Double.NaN);
            assertTrue(accuracy > 0.4, "learns under spark-submit (chance is 0.10): " + accuracy);
            assertTrue(Files.isRegularFile(run.resolve("last.zip")), "checkpoint written");
            assertTrue(Files.readString(run.resolve("train.log")).contains("on " + cluster.master()),
                    "trained on the cluster");
        }
    }

    /** A jar of the compiled classes and resources: what {@code mvn -Pspark package} makes of them. */
    private static Path jar(Path classes, Path target) throws IOException {
        try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(target));
             Stream<Path> files = Files.walk(classes)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                out.putNextEntry(new JarEntry(classes.relativize(f).toString().replace('\\', '/')));
                Files.copy(f, out); // leaves the jar open
                out.closeEntry();
            }
        }
        return target;
    }

    private static String tail(Path log) throws IOException {
        String all = Files.readString(log);
        return all.substring(Math.max(0, all.length() - 6000));
    }
}
