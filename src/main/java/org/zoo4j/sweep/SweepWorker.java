package org.zoo4j.sweep;

import java.io.IOException;
import java.nio.file.Path;
import org.zoo4j.runtime.Backend;

/**
 * The program a {@code --parallel} sweep starts in each worker process: {@code SweepWorker SWEEP_DIR DEADLINE_MILLIS}
 * takes trials of the sweep in that directory until none is left or the deadline (epoch milliseconds) has passed.
 *
 * <p>A worker ends with its parent, however the parent died: the parent holds the write end of the worker's standard
 * input, which every operating system closes when the parent process ends, so the worker reads end-of-file. It then
 * stops its trial with a checkpoint (the trial stays queued for a resumed sweep) and exits.
 */
public final class SweepWorker {
    private SweepWorker() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: SweepWorker SWEEP_DIR DEADLINE_MILLIS (started by a --parallel sweep)");
            System.exit(2);
        }
        Backend.init();
        Sweep sweep = Sweep.open(Path.of(args[0]));
        Thread parentWatch = new Thread(() -> {
            try {
                while (System.in.read() >= 0) {
                    // the parent never writes: anything read is ignored
                }
            } catch (IOException e) {
                // a broken pipe says the same as end-of-file
            }
            System.out.println("sweep worker: the sweep process that started this worker has ended; stopping");
            sweep.stop();
        }, "zoo4j-sweep-parent-watch");
        parentWatch.setDaemon(true);
        parentWatch.start();
        sweep.work(Long.parseLong(args[1]), System.out);
        System.exit(0);
    }
}
