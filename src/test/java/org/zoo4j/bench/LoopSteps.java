package org.zoo4j.bench;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.zoo4j.base.AtomicFiles;
import org.zoo4j.recipe.TrainingRecipe;
import org.zoo4j.training.Trainer;
import org.zoo4j.training.TrainingHooks;

/**
 * Each step's wall time in zoo4j's training loop, epoch by epoch, on the bench's data ({@link BenchData#pipeline}):
 * one line per epoch, the milliseconds from one batch reaching the network to the next (the first figure: from the
 * previous epoch's end, checkpoint excluded, to the first batch), then the time from the last batch to the epoch's end
 * (the last step and the checkpoint). Shows stalls that an epoch's images/s averages away. Run:
 * <pre>
 * mvn -q -B -DskipTests test-compile dependency:build-classpath -Dmdep.outputFile=target/bench.classpath
 * java -Xmx4g -XX:+UseSerialGC -Xmn96m -XX:SurvivorRatio=4 \
 *     -cp "target/test-classes:target/classes:$(cat target/bench.classpath)" \
 *     org.zoo4j.bench.LoopSteps resnet20 [batch, default 128] [steps an epoch, default 30] [epochs, default 6]
 * </pre>
 */
public final class LoopSteps {
    private LoopSteps() {
    }

    public static void main(String[] args) throws Exception {
        BenchNetwork network = BenchNetwork.named(args.length > 0 ? args[0] : "resnet20");
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 128;
        int steps = args.length > 2 ? Integer.parseInt(args[2]) : 30;
        int epochs = args.length > 3 ? Integer.parseInt(args[3]) : 6;
        List<Long> times = new ArrayList<>(); // a batch's arrival; negative: an epoch's end
        TrainingHooks hooks = TrainingHooks.NONE.withBatchFilter(ds -> {
            times.add(System.nanoTime());
            return ds;
        }).withOnEpoch((m, state) -> {
            times.add(-System.nanoTime());
            return null;
        });
        TrainingRecipe recipe = new TrainingRecipe(network.model(), network.overrides(),
                BenchData.pipeline(batch, steps * batch), epochs, null, 0, 0, 0, null, null, 1, null);
        Path dir = Files.createTempDirectory("loop-steps-");
        try (Trainer trainer = Trainer.start(recipe, dir, new PrintStream(PrintStream.nullOutputStream()), hooks)) {
            trainer.run();
        } finally {
            AtomicFiles.deleteTree(dir);
        }
        long previous = 0;
        StringBuilder line = new StringBuilder();
        for (long t : times) {
            if (t < 0) {
                System.out.println("epoch:" + line + " | to the epoch's end " + (-t - previous) / 1_000_000 + " ms");
                line.setLength(0);
                previous = -t;
            } else {
                if (previous != 0) {
                    line.append(' ').append((t - previous) / 1_000_000);
                }
                previous = t;
            }
        }
    }
}
