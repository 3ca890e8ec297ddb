package org.zoo4j.sweep;

import java.nio.file.Path;
import org.zoo4j.runtime.Backend;

/**
 * The program a {@code --parallel} sweep starts in each worker process: {@code SweepWorker SWEEP_DIR DEADLINE_MILLIS}
 * takes trials of the sweep in that directory until none is left or the deadline (epoch milliseconds) has passed.
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
        Sweep.open(Path.of(args[0])).work(Long.parseLong(args[1]), System.out);
        System.exit(0);
    }
}
