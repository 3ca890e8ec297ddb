package org.zoo4j.runtime;

import java.util.HashMap;
import java.util.Map;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.zoo4j.base.InputShape;
import org.zoo4j.bench.BenchNetwork;
import org.zoo4j.zoo.ModelRegistry;

/**
 * Where a training step's time goes, by sampling the training thread's Java stack every 2 ms: each sample is counted
 * under the method on top (a native call: a oneDNN primitive, a reorder, an ND4J op), the first zoo4j frame under it
 * and the DL4J layer or vertex that made the call. Unlike ND4J's op profiler it does not slow the ops it measures,
 * and it sees zoo4j's own oneDNN calls and the Java work between ops. Run:
 * <pre>
 * mvn -q -B -DskipTests test-compile dependency:build-classpath -Dmdep.outputFile=target/bench.classpath
 * java -Xmx4g -XX:+UseSerialGC -Xmn96m -XX:SurvivorRatio=4 \
 *     -cp "target/test-classes:target/classes:$(cat target/bench.classpath)" \
 *     org.zoo4j.runtime.StepSampler resnet20 [batch, default 128] [steps, default 20]
 * </pre>
 */
public final class StepSampler {
    private StepSampler() {
    }

    public static void main(String[] args) throws InterruptedException {
        Backend.init();
        BenchNetwork network = BenchNetwork.named(args.length > 0 ? args[0] : "resnet20");
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 128;
        int steps = args.length > 2 ? Integer.parseInt(args[2]) : 20;
        ComputationGraph net = ModelRegistry.builtIn().create(network.model(), network.settings());
        LayerHelpers.installForTraining(net);
        InputShape shape = network.config().input();
        Nd4j.getRandom().setSeed(12345);
        var labels = Nd4j.zeros(DataType.FLOAT, batch, 10);
        for (int i = 0; i < batch; i++) {
            labels.putScalar(i, i % 10, 1.0);
        }
        DataSet ds = new DataSet(Nd4j.randn(DataType.FLOAT, batch, shape.channels(), shape.height(), shape.width()),
                labels);
        for (int i = 0; i < 5; i++) {
            net.fit(ds); // warm-up: plans, workspaces, JIT
        }
        Thread trainer = Thread.currentThread();
        Map<String, Integer> counts = new HashMap<>();
        int[] samples = new int[1];
        java.util.concurrent.atomic.AtomicBoolean running = new java.util.concurrent.atomic.AtomicBoolean(true);
        Thread sampler = new Thread(() -> {
            while (running.get()) {
                StackTraceElement[] stack = trainer.getStackTrace();
                if (stack.length > 0) {
                    samples[0]++;
                    counts.merge(name(stack[0]) + " | " + first(stack, "org.zoo4j.") + " | "
                            + first(stack, "org.deeplearning4j.nn.layers.", "org.deeplearning4j.nn.graph.vertex."),
                            1, Integer::sum);
                }
                try {
                    Thread.sleep(2);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "step-sampler");
        sampler.setDaemon(true);
        long start = System.nanoTime();
        sampler.start();
        for (int i = 0; i < steps; i++) {
            net.fit(ds);
        }
        double ms = (System.nanoTime() - start) / 1e6 / steps;
        running.set(false);
        sampler.join();
        System.out.printf("%s batch %d: %d steps, %.1f ms a step while sampled, %d samples%n", network.name(), batch,
                steps, ms, samples[0]);
        System.out.println("samples  share   top of stack | first zoo4j frame | DL4J layer or vertex");
        counts.entrySet().stream().sorted((a, b) -> b.getValue() - a.getValue()).limit(40)
                .forEach(e -> System.out.printf("%7d %6.1f%%  %s%n", e.getValue(), 100.0 * e.getValue() / samples[0],
                        e.getKey()));
    }

    private static String name(StackTraceElement e) {
        String c = e.getClassName();
        return c.substring(c.lastIndexOf('.') + 1) + "." + e.getMethodName();
    }

    private static String first(StackTraceElement[] stack, String... prefixes) {
        for (StackTraceElement e : stack) {
            for (String p : prefixes) {
                if (e.getClassName().startsWith(p) && !e.getClassName().equals(StepSampler.class.getName())) {
                    return name(e) + ":" + e.getLineNumber();
                }
            }
        }
        return "-";
    }
}
