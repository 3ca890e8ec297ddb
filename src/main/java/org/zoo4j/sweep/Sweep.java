package org.zoo4j.sweep;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.zoo4j.base.AtomicFiles;
import org.zoo4j.base.ConfigException;
import org.zoo4j.modelfile.TrainingState;
import org.zoo4j.recipe.TrainingRecipe;
import org.zoo4j.training.RunDirectory;
import org.zoo4j.training.Trainer;
import org.zoo4j.training.TrainingHooks;
import org.zoo4j.training.TrainingLoop;
import org.zoo4j.zoo.Dl4jNetworkFile;

/**
 * A hyperparameter sweep in a directory ({@code runs/sweeps/NAME/}):
 * <pre>
 *   sweep.yaml        the sweep's definition (base recipe as base-recipe.yaml beside it)
 *   sweep.db          the store: trials, parameters, per-epoch values, states (see {@link SweepStore})
 *   trials/0007/      each trial is a normal run directory: ./zoo4j train trials/0007/recipe.yaml runs it again
 *   report.html       leaderboard and plots, written by {@link SweepReport}; best-recipe.yaml the best trial's recipe
 * </pre>
 * Workers (this process, or {@code --parallel N} child processes) take trials from the store until the budget is
 * spent; any of them may be killed at any moment and {@link #resume} starts them again.
 */
public final class Sweep {
    private final SweepSpec spec;
    private final Path dir;
    private final SweepStore store;
    private final Sampler sampler;
    private final Pruner pruner;
    /** Set by {@link #stop}: no trial starts any more, and the running one stops with a checkpoint. */
    private volatile boolean stopping;

    private Sweep(SweepSpec spec, Path dir, SweepStore store) {
        this.spec = spec;
        this.dir = dir;
        this.store = store;
        this.sampler = Sampler.of(spec.strategy(), spec.space());
        this.pruner = Pruner.of(spec.pruner());
    }

    /**
     * A new sweep from a sweep file in {@code root/NAME}; an existing sweep of that name is an error (resume it).
     */
    public static Sweep create(Path sweepFile, Path root) throws IOException {
        SweepSpec spec = SweepSpec.read(sweepFile);
        Path dir = root.resolve(spec.name());
        if (SweepStore.exists(dir)) {
            throw new ConfigException("sweep " + spec.name() + " already exists in " + dir + "; continue it "
                    + "with ./zoo4j sweep --resume " + spec.name() + ", or set another name: in " + sweepFile);
        }
        SweepStore store = SweepStore.open(dir);
        AtomicFiles.writeString(dir.resolve("base-recipe.yaml"), spec.base().toYaml());
        AtomicFiles.writeString(dir.resolve("sweep.yaml"), Files.readString(sweepFile));
        store.putMeta("name", spec.name());
        store.putMeta("source", sweepFile.toString());
        store.putMeta("objective", spec.objective().key());
        return new Sweep(spec, dir, store);
    }

    /** The sweep in {@code dir}, as created from a sweep file. */
    public static Sweep open(Path dir) throws IOException {
        if (!SweepStore.exists(dir) || !Files.isRegularFile(dir.resolve("sweep.yaml"))) {
            throw new ConfigException(dir + " holds no sweep (no sweep.db and sweep.yaml); start one with "
                    + "./zoo4j sweep training/sweeps/FILE.yaml");
        }
        return new Sweep(readSpec(dir), dir, SweepStore.open(dir));
    }

    /**
     * The definition of the sweep in {@code dir} as it was created from its sweep file, without opening its store;
     * null for a sweep defined in code (it has no sweep.yaml).
     */
    public static SweepSpec readSpec(Path dir) throws IOException {
        if (!Files.isRegularFile(dir.resolve("sweep.yaml"))) {
            return null;
        }
        // The base recipe as it was resolved at creation, so later edits of the recipe file change nothing.
        return SweepFile.parse(Files.readString(dir.resolve("sweep.yaml")), dir.getFileName().toString(), null,
                dir.resolve("base-recipe.yaml"));
    }

    /**
     * The sweep in {@code dir} as a cluster's executor needs it to train trials ({@link #train}): its definition only.
     * The store is not opened: executors never touch sweep.db (see {@link TrialMailbox}).
     */
    public static Sweep forTrials(Path dir) throws IOException {
        if (!Files.isRegularFile(dir.resolve("sweep.yaml")) || !Files.isRegularFile(dir.resolve("base-recipe.yaml"))) {
            throw new ConfigException("cannot read the sweep in " + dir + " (its sweep.yaml and base-recipe.yaml) from "
                    + "this machine; the sweep directory must be on a filesystem every worker shares, at the same path");
        }
        SweepSpec spec = SweepFile.parse(Files.readString(dir.resolve("sweep.yaml")), dir.getFileName().toString(),
                null, dir.resolve("base-recipe.yaml"));
        return new Sweep(spec, dir, null);
    }

    /**
     * A sweep defined in code (for instance over the user's own Arbiter parameter spaces), created in {@code dir} or,
     * when one is there, continued.
     */
    public static Sweep of(SweepSpec spec, Path dir) throws IOException {
        boolean existed = SweepStore.exists(dir);
        SweepStore store = SweepStore.open(dir);
        if (!existed) {
            AtomicFiles.writeString(dir.resolve("base-recipe.yaml"), spec.base().toYaml());
            store.putMeta("name", spec.name());
            store.putMeta("source", "programmatic: " + spec.space());
            store.putMeta("objective", spec.objective().key());
        }
        return new Sweep(spec, dir, store);
    }

    public SweepSpec spec() {
        return spec;
    }

    public Path dir() {
        return dir;
    }

    public SweepStore store() {
        return store;
    }

    /** The time budget's end for a sweep (or resume) that starts now; Long.MAX_VALUE without one. */
    public long deadlineFromNow() {
        return spec.maxMinutes() > 0 ? System.currentTimeMillis() + (long) (spec.maxMinutes() * 60_000) : Long.MAX_VALUE;
    }

    /**
     * Runs trials in {@code parallel} worker processes (1: in this process) until the budget is spent or no
     * candidates are left, then writes the report. Each worker process gets its share of the CPU threads, and with a
     * CUDA recipe one GPU each (CUDA_VISIBLE_DEVICES).
     */
    public void run(int parallel, PrintStream console) throws IOException, InterruptedException {
        if (parallel < 1) {
            throw new ConfigException("--parallel: at least 1, got " + parallel);
        }
        if (parallel > 1 && !Files.isRegularFile(dir.resolve("sweep.yaml"))) {
            throw new ConfigException("a sweep defined in code runs its trials in this process; use parallel 1 "
                    + "(worker processes rebuild the sweep from its sweep.yaml)");
        }
        long deadline = deadlineFromNow();
        if (parallel == 1) {
            work(deadline, console);
        } else {
            runChildren(parallel, deadline, console);
        }
        SweepReport.write(this, console);
    }

    private void runChildren(int parallel, long deadline, PrintStream console) throws IOException, InterruptedException {
        int threads = Math.max(1, Runtime.getRuntime().availableProcessors() / parallel);
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> jvm = new ArrayList<>();
        for (String arg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (arg.startsWith("-Xmx") || arg.startsWith("-D")) {
                jvm.add(arg);
            }
        }
        Path logs = Files.createDirectories(dir.resolve("workers"));
        List<Process> children = new ArrayList<>();
        for (int i = 0; i < parallel; i++) {
            List<String> command = new ArrayList<>(List.of(javaBin));
            command.addAll(jvm);
            command.addAll(List.of("-cp", System.getProperty("java.class.path"), SweepWorker.class.getName(),
                    dir.toString(), Long.toString(deadline)));
            ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(logs.resolve("worker-" + i + ".log").toFile()));
            // ND4J's thread pools are per process: each worker gets its share of the cores.
            pb.environment().put("OMP_NUM_THREADS", Integer.toString(threads));
            if (spec.base().device().equals("cuda")) {
                pb.environment().put("CUDA_VISIBLE_DEVICES", Integer.toString(i));
            }
            children.add(pb.start());
        }
        console.printf(Locale.ROOT, "sweep %s: %d worker processes, %d CPU threads each; logs in %s%n", spec.name(),
                parallel, threads, logs);
        Thread stopChildren = new Thread(() -> children.forEach(Process::destroy), "zoo4j-sweep-stop-workers");
        Runtime.getRuntime().addShutdownHook(stopChildren);
        try {
            for (Process p : children) {
                p.waitFor();
            }
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(stopChildren);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running
            }
        }
    }

    /**
     * Asks {@link #work} to end soon: the running trial stops within a few seconds with a checkpoint (it stays queued,
     * and a resumed sweep continues it), and no other trial starts.
     */
    public void stop() {
        stopping = true;
    }

    /** One worker: takes and runs trials until none is left or the deadline passed; returns how many it ran. */
    public int work(long deadline, PrintStream console) throws IOException {
        int ran = 0;
        while (System.currentTimeMillis() < deadline && !stopping) {
            SweepStore.Claim claim = claim();
            if (claim == null) {
                break;
            }
            runTrial(claim, deadline, console);
            ran++;
        }
        return ran;
    }

    private Map.Entry<double[], Map<String, String>> propose(int number, List<SweepStore.Trial> trials) {
        List<Sampler.Observation> history = new ArrayList<>();
        for (SweepStore.Trial t : trials) {
            if ((t.state() == SweepStore.State.COMPLETE || t.state() == SweepStore.State.PRUNED) && t.value() != null) {
                history.add(new Sampler.Observation(t.point(), asLoss(t.value())));
            }
        }
        double[] point = sampler.next(number, history);
        return point == null ? null : Map.entry(point, spec.space().settings(point));
    }

    private double asLoss(double value) {
        return spec.objective().maximize() ? -value : value;
    }

    /** The run directory of trial {@code number}. */
    public Path trialDir(int number) {
        return dir.resolve("trials").resolve(String.format(Locale.ROOT, "%04d", number));
    }

    /**
     * What a trial's run came to, for the store: its state, best objective value, test accuracy, why it was pruned,
     * failed or queued again, and the seconds it took. On a cluster it travels from the executor to the driver as JSON.
     */
    public record TrialOutcome(int number, SweepStore.State state, Double value, Double testAccuracy, String reason,
                               double seconds) {
    }

    /** Where a trial reports each finished epoch; the answer is a reason to prune it, or null to go on. */
    @FunctionalInterface
    public interface EpochReporter {
        String report(int trial, int epoch, double value, Double best, boolean last) throws IOException;
    }

    private void runTrial(SweepStore.Claim claim, long deadline, PrintStream console) throws IOException {
        SweepStore.Trial trial = claim.trial();
        int n = trial.number();
        console.printf(Locale.ROOT, "trial %04d %s: %s%n", n, claim.continued() ? "continued" : "started",
                trial.params());
        ScheduledExecutorService heartbeat = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "zoo4j-sweep-heartbeat");
            t.setDaemon(true);
            return t;
        });
        TrialOutcome outcome;
        try {
            heartbeat.scheduleAtFixedRate(() -> {
                try {
                    store.heartbeat(n);
                } catch (IOException e) {
                    console.println("(heartbeat of trial " + n + " failed: " + e.getMessage() + ")");
                }
            }, 5, 5, TimeUnit.SECONDS);
            outcome = train(trial, deadline, this::recordEpoch, () -> stopping, false);
        } finally {
            heartbeat.shutdownNow();
        }
        record(outcome, console);
    }

    /**
     * Trains trial {@code trial} in its run directory, continuing from its checkpoint where it has one, until it
     * completes, is pruned ({@code reporter}'s answer), fails, or is stopped (the deadline, or {@code stop}) with a
     * checkpoint. Every error is part of the outcome, never thrown. {@code inCluster}: the trial runs as a task on a
     * cluster's executor, and trains in that process whatever the base recipe's {@code spark:} section says.
     */
    public TrialOutcome train(SweepStore.Trial trial, long deadline, EpochReporter reporter, BooleanSupplier stop,
                              boolean inCluster) {
        int n = trial.number();
        Path runDir = trialDir(n);
        long start = System.nanoTime();
        ScheduledExecutorService watch = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "zoo4j-sweep-trial-watch");
            t.setDaemon(true);
            return t;
        });
        Trainer trainer = null;
        SweepStore.State state;
        Double testAccuracy = null;
        String reason;
        try {
            Map<String, String> settings = new LinkedHashMap<>(trial.params());
            settings.keySet().removeIf(SearchSpace::isNetworkSetting);
            TrainingRecipe recipe = spec.base().with(settings);
            if (inCluster) {
                recipe = recipe.withSpark(null);
            }
            String network = spec.space().networkJson(trial.point()); // the same network again on a continued trial
            PrintStream quiet = new PrintStream(OutputStream.nullOutputStream()); // the trial's train.log has it all
            int epochs = recipe.epochs();
            TrainingHooks hooks = TrainingHooks.NONE.withOnEpoch((m, s) -> {
                try {
                    return reporter.report(n, m.epoch(), spec.objective().of(m), bestValue(s),
                            m.epoch() >= epochs);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
            if (Files.isRegularFile(runDir.resolve(RunDirectory.LAST))) {
                trainer = Trainer.resume(runDir, Map.of(), quiet, hooks);
            } else {
                AtomicFiles.deleteTree(runDir); // a trial killed in its first epoch: nothing to continue from
                Files.createDirectories(runDir.getParent());
                if (network != null) {
                    Path file = runDir.resolve(Dl4jNetworkFile.RUN_FILE);
                    AtomicFiles.writeString(file, network);
                    recipe = recipe.withModel(file.toAbsolutePath().toString(), recipe.overrides());
                }
                trainer = Trainer.start(recipe, runDir, quiet, hooks);
            }
            Trainer running = trainer;
            watch.scheduleAtFixedRate(() -> {
                if (System.currentTimeMillis() >= deadline || stopping || stop.getAsBoolean()) {
                    running.requestStop();
                }
            }, 1, 1, TimeUnit.SECONDS);
            TrainingLoop.Result result = trainer.run();
            switch (result.status()) {
                case COMPLETED, EARLY_STOPPED -> {
                    state = SweepStore.State.COMPLETE;
                    testAccuracy = result.test().accuracy();
                    reason = result.status() == TrainingLoop.Status.EARLY_STOPPED ? "early stopping" : null;
                }
                case PRUNED -> {
                    state = SweepStore.State.PRUNED;
                    reason = result.message();
                }
                case DIVERGED -> {
                    state = SweepStore.State.FAILED;
                    reason = result.message().replaceFirst("; stopped;.*", "");
                }
                default -> {
                    state = SweepStore.State.QUEUED;
                    reason = "stopped by " + (System.currentTimeMillis() >= deadline ? "the time budget"
                            : "the end of the sweep's process") + " after epoch " + result.epochsDone()
                            + " (checkpoint kept); --resume continues it";
                }
            }
        } catch (OutOfMemoryError e) {
            state = SweepStore.State.FAILED;
            reason = "out of memory: " + e.getMessage() + "; try a smaller data.batchSize or model";
        } catch (Exception e) {
            state = SweepStore.State.FAILED;
            reason = (e instanceof IllegalArgumentException ? "bad combination: " : "") + e.getMessage();
        } finally {
            watch.shutdownNow();
            if (trainer != null) {
                trainer.close();
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        Double value = trainer == null ? null : bestValue(trainer.state());
        return new TrialOutcome(n, state, value, testAccuracy, reason, seconds);
    }

    /** Stores a trial's outcome, ending this process's hold on it, and prints it. */
    public void record(TrialOutcome outcome, PrintStream console) throws IOException {
        store.finish(outcome.number(), outcome.state(), outcome.value(), outcome.testAccuracy(), outcome.reason(),
                outcome.seconds());
        console.printf(Locale.ROOT, "trial %04d %s%s%s (%.0f s)%n", outcome.number(),
                outcome.state().name().toLowerCase(Locale.ROOT), outcome.value() == null ? ""
                        : String.format(Locale.ROOT, ": %s %.4f", spec.objective().key(), outcome.value()),
                outcome.reason() == null ? "" : " - " + outcome.reason(), outcome.seconds());
    }

    /**
     * Records a finished epoch of trial {@code n} in the store and asks the pruner about it: a reason to stop the
     * trial, or null. Not after its last epoch ({@code last}): nothing is left to save.
     */
    public String recordEpoch(int n, int epoch, double value, Double best, boolean last) throws IOException {
        Map<Integer, Map<Integer, Double>> values = store.report(n, epoch, value, best == null ? Double.NaN : best);
        if (last) {
            return null;
        }
        Map<Integer, Map<Integer, Double>> losses = new LinkedHashMap<>();
        values.forEach((t, byEpoch) -> {
            Map<Integer, Double> l = new LinkedHashMap<>();
            byEpoch.forEach((e, v) -> l.put(e, asLoss(v)));
            losses.put(t, l);
        });
        return pruner.check(n, epoch, losses);
    }

    /**
     * Takes the next trial to run for this process (one it holds until {@link #record}): a queued one, or a new one
     * from the sampler; null when the budget is spent or no candidate is left.
     */
    public SweepStore.Claim claim() throws IOException {
        return store.claim(spec.maxTrials(), this::propose);
    }

    /**
     * Runs the trials as tasks on a cluster ({@code ./zoo4j sweep FILE --spark MASTER}): this process keeps the sampler
     * and the store and hands trials out; each trial trains on an executor, in its run directory under this sweep's
     * directory, which must therefore be on a filesystem every worker shares. Needs the Spark build. Writes the report.
     */
    public void runDistributed(String master, PrintStream console) throws IOException, InterruptedException {
        if (!Files.isRegularFile(dir.resolve("sweep.yaml"))) {
            throw new ConfigException("a sweep defined in code runs its trials in this process; a cluster's executors "
                    + "rebuild the sweep from its sweep.yaml");
        }
        DistributedSweep.find().run(this, master, deadlineFromNow(), console);
        SweepReport.write(this, console);
    }

    /** The trial's best epoch value of the objective so far, or null before its first epoch. */
    Double bestValue(TrainingState state) {
        return state.history().stream().map(spec.objective()::of).filter(Double::isFinite)
                .max(spec.objective().maximize() ? Comparator.naturalOrder() : Comparator.<Double>reverseOrder())
                .orElse(null);
    }
}
