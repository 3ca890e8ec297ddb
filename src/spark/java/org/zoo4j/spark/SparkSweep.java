package org.zoo4j.spark;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import org.apache.spark.api.java.JavaFutureAction;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.Function;
import org.zoo4j.base.ConfigException;
import org.zoo4j.base.Configs;
import org.zoo4j.recipe.SparkSettings;
import org.zoo4j.runtime.Backend;
import org.zoo4j.sweep.DistributedSweep;
import org.zoo4j.sweep.Sweep;
import org.zoo4j.sweep.SweepStore;
import org.zoo4j.sweep.TrialMailbox;

/**
 * A sweep's trials as Spark tasks: each trial is one job of one task (one partition), so that Spark runs as many
 * at once as the cluster has task slots and retries exactly one trial when its task is lost. The driver keeps the
 * sampler and the SQLite store: it claims a trial, submits it, answers the executor's epoch reports with the pruner's
 * decisions ({@link TrialMailbox}), keeps the trial's heartbeat, and stores the outcome, which the task returns as a
 * row (a trial's own errors never fail its task). A task that fails anyway (its executor was lost) leaves the trial
 * queued, and it continues from its last checkpoint in the next free slot; after {@code 3} such losses it is failed.
 * A killed driver leaves its trials running in the store under its process id; {@code --resume} finds that process
 * gone and continues them, and never runs a complete trial again.
 */
public final class SparkSweep implements DistributedSweep {
    /** How long an executor waits for the driver's pruning decision after an epoch. */
    static final long DECISION_WAIT_MILLIS = 120_000;
    private static final int MAX_LOSSES = 3;

    private record Running(SweepStore.Trial trial, JavaFutureAction<List<String>> result) {
    }

    @Override
    public void run(Sweep sweep, String master, long deadline, PrintStream console) throws IOException,
            InterruptedException {
        SparkSettings base = sweep.spec().base().spark();
        SparkSettings settings = (base != null ? base : SparkSettings.on(null)).withMaster(master);
        String name = sweep.spec().name();
        try (SparkClusters.Cluster cluster = SparkClusters.start(settings, "zoo4j sweep " + name, console)) {
            JavaSparkContext sc = cluster.context();
            Path dir = sweep.dir().toAbsolutePath();
            int slots = settings.workers() > 0 ? settings.workers() : Math.max(1, cluster.slots());
            checkSweepDirectory(sc, dir, slots);
            console.printf(Locale.ROOT, "sweep %s: trials as Spark tasks on %s, up to %d at once%n", name,
                    cluster.master(), slots);
            Map<Integer, Running> running = new LinkedHashMap<>();
            boolean exhausted = false;
            boolean lost = false;
            long lastBeat = 0;
            while (true) {
                while (!exhausted && !lost && running.size() < slots && System.currentTimeMillis() < deadline) {
                    SweepStore.Claim claim = sweep.claim();
                    if (claim == null) {
                        exhausted = true;
                        break;
                    }
                    SweepStore.Trial trial = claim.trial();
                    console.printf(Locale.ROOT, "trial %04d %s on Spark: %s%n", trial.number(),
                            claim.continued() ? "continued" : "started", trial.params());
                    sc.setJobGroup("zoo4j-trial-" + trial.number(), "zoo4j sweep " + name + ", trial "
                            + trial.number(), true);
                    JavaFutureAction<List<String>> result = sc.parallelize(List.of(Configs.toJson(trial)), 1)
                            .map(new TrialTask(dir.toString(), deadline)).collectAsync();
                    sc.clearJobGroup();
                    running.put(trial.number(), new Running(trial, result));
                }
                if (running.isEmpty()) {
                    break;
                }
                Thread.sleep(250);
                boolean beat = System.currentTimeMillis() - lastBeat > 5000;
                for (Iterator<Running> it = running.values().iterator(); it.hasNext(); ) {
                    Running r = it.next();
                    int n = r.trial().number();
                    TrialMailbox.serve(sweep, n);
                    if (beat) {
                        sweep.store().heartbeat(n);
                    }
                    if (r.result().isDone()) {
                        TrialMailbox.serve(sweep, n); // the last epoch's report
                        sweep.record(outcome(r, cluster), console);
                        it.remove();
                        exhausted = false; // a trial queued again can be claimed now
                    }
                }
                if (beat) {
                    lastBeat = System.currentTimeMillis();
                }
                if (!lost && cluster.lostExecutors()) {
                    lost = true;
                }
            }
            if (lost) {
                throw new ConfigException(cluster.lostMessage() + "; the sweep's finished trials are kept, and its "
                        + "interrupted ones continue from their checkpoints with ./zoo4j sweep --resume " + name
                        + " --spark " + master);
            }
        }
    }

    /** What a finished trial job says: its task's row, or, when the task itself failed, the trial queued again. */
    private static Sweep.TrialOutcome outcome(Running r, SparkClusters.Cluster cluster) throws InterruptedException {
        SweepStore.Trial trial = r.trial();
        try {
            return Configs.fromJson(r.result().get().get(0), Sweep.TrialOutcome.class);
        } catch (ExecutionException e) {
            String why = cluster.lostExecutors() ? "no executor was left" : firstLine(e.getCause());
            boolean giveUp = trial.attempts() >= MAX_LOSSES;
            return new Sweep.TrialOutcome(trial.number(), giveUp ? SweepStore.State.FAILED : SweepStore.State.QUEUED,
                    null, null, (giveUp ? "its Spark task failed " + trial.attempts() + " times, last: "
                    : "its Spark task failed (") + why + (giveUp ? "" : "); continued from its last checkpoint"), 0);
        }
    }

    private static String firstLine(Throwable t) {
        String m = t == null ? "unknown" : String.valueOf(t.getMessage());
        return m.lines().findFirst().orElse(m);
    }

    /** Every task slot can read the sweep's definition: its directory is shared with the workers. */
    private static void checkSweepDirectory(JavaSparkContext sc, Path dir, int slots) {
        List<Integer> tasks = new ArrayList<>();
        for (int i = 0; i < slots; i++) {
            tasks.add(i);
        }
        for (String failure : sc.parallelize(tasks, slots).map(new DirectoryCheck(dir.toString())).collect()) {
            if (!failure.isEmpty()) {
                throw new ConfigException("--spark: " + failure + "; put the sweep directory (--dir) on a filesystem "
                        + "every worker shares, at the same path");
            }
        }
    }

    /** Runs on an executor: empty if the sweep can be read there, else why not. */
    static final class DirectoryCheck implements Function<Integer, String> {
        private static final long serialVersionUID = 1L;
        private final String dir;

        DirectoryCheck(String dir) {
            this.dir = dir;
        }

        @Override
        public String call(Integer slot) {
            try {
                Sweep.forTrials(Path.of(dir));
                return "";
            } catch (IOException | RuntimeException e) {
                return "on " + Hosts.here() + ": " + e.getMessage();
            }
        }
    }

    /**
     * One trial, run on an executor: its row is the {@link Sweep.TrialOutcome} as JSON. Holds only strings and numbers:
     * the sweep is read again from its directory, never sent from the driver.
     */
    static final class TrialTask implements Function<String, String> {
        private static final long serialVersionUID = 1L;
        private final String dir;
        private final long deadline;

        TrialTask(String dir, long deadline) {
            this.dir = dir;
            this.deadline = deadline;
        }

        @Override
        public String call(String json) {
            Backend.init();
            SweepStore.Trial trial = Configs.fromJson(json, SweepStore.Trial.class);
            try {
                Sweep sweep = Sweep.forTrials(Path.of(dir));
                Sweep.TrialOutcome outcome = sweep.train(trial, deadline,
                        TrialMailbox.client(sweep.trialDir(trial.number()), DECISION_WAIT_MILLIS), () -> false, true);
                return Configs.toJson(outcome);
            } catch (IOException | RuntimeException e) {
                return Configs.toJson(new Sweep.TrialOutcome(trial.number(), SweepStore.State.FAILED, null, null,
                        "on " + Hosts.here() + ": " + e.getMessage(), 0));
            }
        }
    }
}
