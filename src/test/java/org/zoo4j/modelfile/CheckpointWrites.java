package org.zoo4j.modelfile;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import org.bytedeco.javacpp.Pointer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.zoo4j.base.AtomicFiles;
import org.zoo4j.base.InputShape;
import org.zoo4j.bench.BenchNetwork;
import org.zoo4j.runtime.Backend;
import org.zoo4j.runtime.LayerHelpers;
import org.zoo4j.zoo.ModelRegistry;

/**
 * A benchmark tool, not a test: how long writing a checkpoint takes and how much it grows the resident set, zoo4j's
 * model file ({@link ModelFile#save}: DL4J's entries, the card, its digest, an atomic rename) against DL4J's own
 * {@code ModelSerializer.writeModel} of the same network, in turn, with and without the optimiser state. The network
 * is one of the benchmark's, trained a few steps on random images (Adam's state then holds real values).
 * <pre>
 * mvn -q -B -o -DskipTests test-compile dependency:build-classpath -Dmdep.outputFile=target/bench.classpath
 * java -Xmx4g -XX:+UseSerialGC -Xmn96m -XX:SurvivorRatio=4 \
 *     -cp "target/test-classes:target/classes:$(cat target/bench.classpath)" \
 *     org.zoo4j.modelfile.CheckpointWrites vgg16-bn 3
 * </pre>
 */
public final class CheckpointWrites {
    private CheckpointWrites() {
    }

    public static void main(String[] args) throws IOException {
        Backend.init();
        BenchNetwork network = BenchNetwork.named(args.length > 0 ? args[0] : "vgg16-bn");
        int repeats = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        ComputationGraph net = ModelRegistry.builtIn().create(network.model(), network.settings());
        LayerHelpers.installForTraining(net);
        InputShape shape = network.config().input();
        Nd4j.getRandom().setSeed(12345);
        INDArray labels = Nd4j.zeros(DataType.FLOAT, 16, 10);
        for (int i = 0; i < 16; i++) {
            labels.putScalar(i, i % 10, 1.0);
        }
        DataSet ds = new DataSet(Nd4j.randn(DataType.FLOAT, 16, shape.channels(), shape.height(), shape.width()),
                labels);
        for (int i = 0; i < 3; i++) {
            net.fit(ds);
        }
        System.out.printf(Locale.ROOT, "%s: %,d parameters, optimiser state %,d values%n", network.name(),
                net.numParams(), net.getUpdater().getStateViewArray().length());
        System.out.println("repeat  writer                     updater  seconds  file MB  resident set grown MB");
        Path dir = Files.createTempDirectory("zoo4j-checkpoints");
        try {
            for (int r = 1; r <= repeats; r++) {
                for (boolean withUpdater : new boolean[] {true, false}) {
                    Path dl4j = dir.resolve("dl4j.zip");
                    time(r, "DL4J ModelSerializer", withUpdater, dl4j,
                            () -> ModelSerializer.writeModel(net, dl4j.toFile(), withUpdater));
                    Path zoo4j = dir.resolve("zoo4j.zip");
                    time(r, "zoo4j ModelFile.save", withUpdater, zoo4j,
                            () -> ModelFile.save(zoo4j, net, withUpdater, Map.of()));
                }
            }
        } finally {
            AtomicFiles.deleteTree(dir);
        }
    }

    private interface Write {
        void run() throws IOException;
    }

    private static void time(int repeat, String writer, boolean withUpdater, Path file, Write write)
            throws IOException {
        System.gc(); // the copies an earlier write left behind are freed first, by ND4J's deallocator threads
        try {
            Thread.sleep(1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        long rss = Pointer.physicalBytes();
        long start = System.nanoTime();
        write.run();
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf(Locale.ROOT, "%6d  %-26s %-7s  %7.2f  %7.1f  %21.1f%n", repeat, writer, withUpdater ? "yes"
                : "no", seconds, Files.size(file) / 1048576.0, (Pointer.physicalBytes() - rss) / 1048576.0);
    }
}
