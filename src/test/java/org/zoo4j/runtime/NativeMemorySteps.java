package org.zoo4j.runtime;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.bytedeco.javacpp.Pointer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.zoo4j.Zoo;
import org.zoo4j.base.InputShape;
import org.zoo4j.bench.BenchNetwork;

/**
 * A benchmark network's first training (or inference) steps, one line per step: resident memory, its peak so far, and
 * the size of ND4J's workspaces on this thread. Before the first step and after each it allocates and frees a block
 * of {@code MARKER_BASE} + step bytes, a mark by which {@code training/benchmarks/native_allocations.sh}'s allocation
 * logger tells the steps apart. Run through that script, or alone:
 * <pre>
 * mvn -q -B -DskipTests test-compile dependency:build-classpath -Dmdep.outputFile=target/bench.classpath
 * java -cp "target/test-classes:target/classes:$(cat target/bench.classpath)" \
 *     org.zoo4j.runtime.NativeMemorySteps resnet20 [batch] [steps] [train|infer]
 * </pre>
 */
public final class NativeMemorySteps {
    /** 64 MB: the marks are this many bytes plus the step's number. */
    static final long MARKER_BASE = 64L << 20;

    private NativeMemorySteps() {
    }

    public static void main(String[] args) throws IOException {
        Backend.init();
        BenchNetwork network = BenchNetwork.named(args.length > 0 ? args[0] : "resnet20");
        if (args.length > 3 && !args[3].equals("train") && !args[3].equals("infer")) {
            throw new IllegalArgumentException("mode: train or infer; got '" + args[3] + "'");
        }
        boolean training = args.length <= 3 || args[3].equals("train");
        int batch = args.length > 1 ? Integer.parseInt(args[1])
                : training ? network.trainBatch().get(0) : network.inferBatch();
        int steps = args.length > 2 ? Integer.parseInt(args[2]) : 10;
        ComputationGraph net = Zoo.create(network.model(), network.settings());
        if (training) {
            LayerHelpers.installForTraining(net);
        } else {
            LayerHelpers.install(net);
        }
        InputShape in = network.config().input();
        INDArray features = Nd4j.rand(DataType.FLOAT, batch, in.channels(), in.height(), in.width());
        INDArray labels = Nd4j.zeros(DataType.FLOAT, batch, 10);
        Random random = new Random(1);
        for (int i = 0; i < batch; i++) {
            labels.putScalar(i, random.nextInt(10), 1);
        }
        DataSet ds = new DataSet(features, labels);
        System.out.printf("# %s, %s, batch %d, native malloc %s%n", network.name(), training ? "training" : "inference",
                batch, Backend.mallocSettings());
        System.out.printf("%-8s %10s %10s %14s%n", "step", "RSS MB", "peak MB", "workspaces MB");
        System.out.printf("%-8s %10d %10d %14d%n", "before", status("VmRSS:"), status("VmHWM:"), workspaces());
        Pointer.free(Pointer.malloc(MARKER_BASE));
        for (int step = 1; step <= steps; step++) {
            if (training) {
                net.fit(ds);
            } else {
                net.output(features)[0].close();
            }
            Pointer.free(Pointer.malloc(MARKER_BASE + step));
            System.out.printf("%-8d %10d %10d %14d%n", step, status("VmRSS:"), status("VmHWM:"), workspaces());
        }
    }

    private static long workspaces() {
        long bytes = 0;
        for (MemoryWorkspace w : Nd4j.getWorkspaceManager().getAllWorkspacesForCurrentThread()) {
            bytes += w.getCurrentSize();
        }
        return bytes >> 20;
    }

    /** A /proc/self/status field in MB. */
    private static long status(String key) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith(key)) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) >> 10;
            }
        }
        return -1;
    }
}
