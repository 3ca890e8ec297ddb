package org.zoo4j.training;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;
import org.zoo4j.base.ConfigException;
import org.zoo4j.base.Configs;
import org.zoo4j.base.FaultInjection;
import org.zoo4j.base.UserInputException;
import org.zoo4j.data.DataException;
import org.zoo4j.data.ImageBatchIterator;
import org.zoo4j.data.SeededEpochs;
import org.zoo4j.modelfile.EpochMetrics;
import org.zoo4j.modelfile.ModelFile;
import org.zoo4j.modelfile.ModelFileCard;
import org.zoo4j.modelfile.TrainingState;
import org.zoo4j.recipe.LoopSettings;
import org.zoo4j.recipe.Monitor;
import org.zoo4j.runtime.InferenceCopy;

/**
 * The epoch loop, for any DL4J {@code ComputationGraph} or {@code MultiLayerNetwork} and any {@code DataSetIterator}
 * pair: a checkpoint after every epoch, the best model by the monitored validation metric, metrics and plots in a
 * {@link RunDirectory}, a learning-rate schedule, early stopping, a NaN check, progress, Ctrl-C and resuming.
 * zoo4j's own runs ({@link Trainer}) are this loop on a recipe's network and data; a DL4J user's own network and
 * DataVec pipeline get the same:
 * <pre>
 * TrainingLoop.Result r = TrainingLoop.builder(network, trainIterator).validation(validationIterator)
 *         .test(testIterator).settings(new LoopSettings(10, LrSchedule.cosine(), Monitor.ACCURACY, 3, 1))
 *         .runDirectory(Path.of("runs/mine")).build().run();
 * // after a kill or Ctrl-C, with the same data:
 * TrainingLoop.resume(Path.of("runs/mine"), trainIterator).validation(validationIterator).test(testIterator)
 *         .build().run();
 * </pre>
 * A run resumes at the epoch boundary of its last checkpoint. Where the training iterator is {@link SeededEpochs}
 * (zoo4j's pipeline), Ctrl-C also writes a checkpoint in the middle of an epoch, and a resumed run continues at the next
 * batch with the same data. Checkpoints keep the loop's settings and state, so a resumed run needs only the data.
 */
public final class TrainingLoop {
    public enum Status { COMPLETED, EARLY_STOPPED, DIVERGED, INTERRUPTED, PRUNED }

    /** How a run ended; {@code test} is null unless it completed or stopped early and test data was given. */
    public record Result(Status status, Path runDir, int epochsDone, EvaluationReport test, String message) {
    }

    /** Counts one trained batch; says why the epoch must end now, or null. */
    @FunctionalInterface
    public interface BatchSink {
        Status trained(double loss, int examples);
    }

    private final TrainableNetwork network;
    private final DataSetIterator train;
    private final DataSetIterator validation;
    private final DataSetIterator test;
    private final List<String> labels;
    private final LoopSettings settings;
    private final RunDirectory run;
    private final Map<String, String> modelEntries;
    private final TrainingHooks hooks;
    private final String resumeAdvice;
    private final Supplier<Map<String, Object>> resultDetails;
    /** Per-step statistics (stats.jsonl), or null: off, or on a cluster (the executors train the steps). */
    private final StatsRecorder stats;
    /** The per-step statistics asked for: every this many iterations; 0 = off. */
    private final int statsEvery;
    /** Trains the epochs on a cluster when set (a recipe's spark: section); null = in this process. */
    private final DistributedTraining.Session distributed;
    private TrainingState state;
    private double appliedFactor = Double.NaN;
    private volatile boolean stopRequested;
    private final CountDownLatch finished = new CountDownLatch(1);

    TrainingLoop(TrainingLoopBuilder b) {
        this.network = TrainableNetwork.of(b.network);
        this.train = b.train;
        this.validation = b.validation;
        this.test = b.test;
        this.labels = b.labels != null ? List.copyOf(b.labels) : labelsOf(b.train);
        this.settings = b.settings;
        this.run = new RunDirectory(b.runDir, b.console);
        this.modelEntries = new LinkedHashMap<>(b.modelEntries);
        this.modelEntries.putIfAbsent(ModelFile.LABELS, Configs.toJson(labels));
        this.modelEntries.putIfAbsent(ModelFile.CARD, Configs.toJson(ModelFileCard.of(
                b.network.getClass().getSimpleName(), labels)));
        this.hooks = b.hooks;
        this.resultDetails = b.resultDetails;
        this.distributed = b.distributed;
        if (distributed != null && hooks.batchFilter() != TrainingHooks.NONE.batchFilter()) {
            throw new IllegalArgumentException("a batch filter cannot run on a cluster: the executors make the batches");
        }
        this.resumeAdvice = b.resumeAdvice != null ? b.resumeAdvice
                : "TrainingLoop.resume(Path.of(\"" + b.runDir + "\"), ...)";
        TrainingState s = b.state != null ? b.state : TrainingState.start(network.learningRates());
        this.state = s.learningRates() != null ? s
                : new TrainingState(s.epochsDone(), s.batchesDone(), s.bestEpoch(), s.bestMetric(), s.sinceBest(),
                s.history(), unscaledRates(network.learningRates(), s, b.settings));
        this.statsEvery = b.statsEvery;
        this.stats = b.statsEvery == 0 || distributed != null ? null : new StatsRecorder(network.model(), run, b.statsEvery,
                settings.workers(), () -> state.epochsDone() + 1);
    }

    /** A new run of {@code network} on {@code train}; set at least {@link TrainingLoopBuilder#runDirectory}. */
    public static TrainingLoopBuilder builder(Model network, DataSetIterator train) {
        return new TrainingLoopBuilder(network, train);
    }

    /**
     * Continues the run in {@code runDir} from its last checkpoint, with its network, state and settings, on the same
     * training data; give its validation and test data again.
     */
    public static TrainingLoopBuilder resume(Path runDir, DataSetIterator train) throws IOException {
        new RunDirectory(runDir, System.out).recover();
        Path last = runDir.resolve(RunDirectory.LAST);
        if (!Files.isRegularFile(last)) {
            throw new ConfigException(runDir + " has no checkpoint (" + RunDirectory.LAST + ") to continue from");
        }
        ModelFile.Checkpoint checkpoint = ModelFile.readCheckpoint(last, null);
        TrainingLoopBuilder b = builder(checkpoint.net(), train).runDirectory(runDir).settings(checkpoint.loop())
                .state(checkpoint.state());
        return checkpoint.labels() == null ? b : b.labels(checkpoint.labels());
    }

    public Model network() {
        return network.model();
    }

    public TrainingState state() {
        return state;
    }

    public RunDirectory runDirectory() {
        return run;
    }

    /** Asks the run to stop after the current batch and write a checkpoint (Ctrl-C). */
    public void requestStop() {
        stopRequested = true;
    }

    /** Waits until {@link #run} has returned; for a shutdown hook. */
    public boolean awaitFinished(long seconds) throws InterruptedException {
        return finished.await(seconds, TimeUnit.SECONDS);
    }

    /** Trains until the last epoch, early stopping, a bad loss, pruning or a stop request. */
    public Result run() throws IOException {
        try {
            run.recover();
            if (stats != null) {
                stats.attach();
            } else if (statsEvery > 0) {
                run.log("statsEvery: " + statsEvery + " asked for, but on a cluster the executors train the steps: no "
                        + "per-step statistics (stats.jsonl); the dashboard shows the epochs' metrics");
            }
            return train();
        } finally {
            if (stats != null) {
                stats.detach();
            }
            finished.countDown();
        }
    }

    private Result train() throws IOException {
        int epochs = settings.epochs();
        if (settings.earlyStopping() > 0 && state.epochsDone() > 0 && state.sinceBest() >= settings.earlyStopping()) {
            return finish(Status.EARLY_STOPPED); // stopped early before a kill: finish what the kill interrupted
        }
        Progress progress = new Progress(run.console(), Progress.stdoutIsTerminal());
        while (state.epochsDone() < epochs) {
            int epoch = state.epochsDone();
            double factor = settings.schedule().factor(epoch, epochs);
            if (!settings.schedule().isConstant() && factor != appliedFactor) {
                network.scaleLearningRates(state.learningRates(), factor);
                appliedFactor = factor;
            }
            long start = System.nanoTime();
            // On a cluster the executors make the batches: the training iterator here is not read.
            EpochRun epochRun = new EpochRun(epoch, distributed != null ? state.batchesDone() : startEpoch(epoch), start,
                    progress);
            Status stopped = distributed != null ? fitDistributed(epochRun, progress)
                    : settings.workers() > 1
                    ? ParallelFit.epoch(network.model(), settings.workers(), train, hooks.batchFilter(), epochRun,
                    () -> stopRequested, stats)
                    : fitSequential(epochRun);
            if (stopped == Status.DIVERGED) {
                progress.endLine();
                return diverged(epochRun);
            }
            if (stopped == Status.INTERRUPTED) {
                progress.endLine();
                return interrupted(epochRun);
            }
            progress.endLine();
            double trainSeconds = (System.nanoTime() - start) / 1e9;
            EvaluationReport validated = validation == null ? null
                    : EvaluationReport.of(network.model(), validation, labels, null);
            double seconds = (System.nanoTime() - start) / 1e9;
            EpochMetrics m = new EpochMetrics(epoch + 1, epochRun.learningRate,
                    epochRun.trained == 0 ? Double.NaN : epochRun.lossSum / epochRun.trained,
                    validated == null ? Double.NaN : validated.loss(),
                    validated == null ? Double.NaN : validated.accuracy(), seconds, epochRun.images / trainSeconds);
            List<EpochMetrics> history = new ArrayList<>(state.history());
            history.add(m);
            double metric = validated == null ? -m.trainLoss()
                    : settings.monitor() == Monitor.LOSS ? -validated.loss() : validated.accuracy();
            boolean improved = state.bestEpoch() == 0 || metric > state.bestMetric();
            state = new TrainingState(epoch + 1, 0, improved ? epoch + 1 : state.bestEpoch(),
                    improved ? metric : state.bestMetric(), improved ? 0 : state.sinceBest() + 1, history,
                    state.learningRates());
            // The checkpoint, the best model, metrics.csv and the log line change together: one commit.
            run.commit(epoch + 1, target -> checkpoint(target, true), improved ? target -> checkpoint(target, false)
                    : null, history, String.format(Locale.ROOT, "epoch %d/%d: lr %.3g, train loss %.4f, validation loss "
                            + "%.4f, validation accuracy %.2f%%, %.0f img/s, %s%s", epoch + 1, epochs,
                    m.learningRate(), m.trainLoss(), m.validationLoss(), 100 * m.validationAccuracy(),
                    m.imagesPerSecond(), Progress.duration(seconds), improved ? " (best)" : "")
                    + (train instanceof SeededEpochs seeded && seeded.skippedInEpoch() > 0
                    ? ", " + seeded.skippedInEpoch() + " unreadable images skipped" : ""));
            String pruned = hooks.onEpoch().afterEpoch(m, state);
            if (pruned != null) {
                run.log("pruned after epoch " + (epoch + 1) + ": " + pruned);
                return new Result(Status.PRUNED, run.path(), state.epochsDone(), null, pruned);
            }
            if (settings.earlyStopping() > 0 && state.sinceBest() >= settings.earlyStopping()) {
                run.log("early stopping: validation " + settings.monitor() + " has not improved for "
                        + state.sinceBest() + " epochs (best at epoch " + state.bestEpoch() + ")");
                return finish(Status.EARLY_STOPPED);
            }
            if (stopRequested) {
                String message = "interrupted after epoch " + (epoch + 1) + "; continue with " + resumeAdvice;
                run.log(message);
                return new Result(Status.INTERRUPTED, run.path(), state.epochsDone(), null, message);
            }
        }
        return finish(Status.COMPLETED);
    }

    /**
     * Puts the training data at the start of {@code epoch}; returns how many of its batches were trained before (a
     * run stopped mid-epoch), which a {@link SeededEpochs} iterator skips to continue with the same data.
     */
    private int startEpoch(int epoch) {
        if (train instanceof SeededEpochs seeded) {
            seeded.setEpoch(epoch);
            int batch = 0;
            for (; batch < state.batchesDone() && seeded.hasNext(); batch++) {
                seeded.next(); // already trained before the interruption: same order, so skip them
            }
            return batch;
        }
        if (train.resetSupported()) {
            train.reset();
        }
        return 0;
    }

    /** One epoch on the cluster; a cluster failure is logged with how to continue, and thrown. */
    private Status fitDistributed(EpochRun epochRun, Progress progress) {
        try {
            return distributed.epoch(epochRun.epoch, epochRun.batch, epochRun, () -> stopRequested, line -> {
                progress.endLine();
                run.log(line);
            });
        } catch (UserInputException e) {
            progress.endLine();
            String message = e.getMessage() + "; " + (state.epochsDone() > 0 ? "the checkpoint after epoch "
                    + state.epochsDone() + " is kept: continue with " + resumeAdvice
                    : "no checkpoint had been written yet: " + resumeAdvice + " starts the run again");
            run.log(message);
            throw e instanceof DataException ? new DataException(message, e) : new ConfigException(message, e);
        }
    }

    private Status fitSequential(EpochRun epochRun) {
        while (train.hasNext()) {
            DataSet taken = train.next();
            DataSet ds = hooks.batchFilter().apply(taken);
            network.fit(ds);
            FaultInjection.point("batch");
            Status stop = epochRun.trained(network.score(), ds.numExamples());
            if (train instanceof ImageBatchIterator images && !images.recycle(taken)) {
                // zoo4j's pipeline writes a later batch into a batch given back; one it does not take back (a short
                // last batch) is its reader's alone, and freed now its native memory serves a later batch rather
                // than waiting for a collection (training/benchmarks/README.md, "Batches copied in one call").
                taken.getFeatures().close();
                taken.getLabels().close();
            }
            if (stop != null) {
                return stop;
            }
        }
        return null;
    }

    private Result diverged(EpochRun epochRun) {
        boolean kept = state.epochsDone() > 0 || state.batchesDone() > 0;
        String message = String.format(Locale.ROOT, "loss became %s at epoch %d, batch %d; stopped; %s. Lower the "
                        + "learning rate or clip gradients, then continue with %s%s", epochRun.badLoss,
                epochRun.epoch + 1, epochRun.batch, kept ? "the last good checkpoint " + run.last() + " (after epoch "
                        + state.epochsDone() + ") is kept" : "no checkpoint had been written yet", resumeAdvice,
                kept ? "" : ", which starts the run again from its beginning");
        run.log(message);
        return new Result(Status.DIVERGED, run.path(), state.epochsDone(), null, message);
    }

    private Result interrupted(EpochRun epochRun) throws IOException {
        int epoch = epochRun.epoch;
        String message;
        if (train instanceof SeededEpochs && distributed == null) {
            state = state.withBatchesDone(epochRun.batch);
            message = "interrupted at epoch " + (epoch + 1) + ", batch " + epochRun.batch + "; checkpoint written; "
                    + "continue with " + resumeAdvice;
            run.commit(epoch, target -> checkpoint(target, true), null, state.history(), message);
            return new Result(Status.INTERRUPTED, run.path(), epoch, null, message);
        } else {
            // Only this data's own order could say which batches are done: continue from the epoch's start. On a
            // cluster the batches were spread over workers in random splits: also from the epoch's start.
            message = "interrupted in epoch " + (epoch + 1) + (state.epochsDone() > 0 ? "; the checkpoint after epoch "
                    + state.epochsDone() + " is kept: continue with " + resumeAdvice + ", which trains epoch "
                    + (epoch + 1) + " from its start" : "; no checkpoint had been written yet");
        }
        run.log(message);
        return new Result(Status.INTERRUPTED, run.path(), epoch, null, message);
    }

    /** One epoch's running totals; {@link #trained} is where every trained batch is counted, checked and shown. */
    private final class EpochRun implements BatchSink {
        final int epoch;
        final long start;
        final Progress progress;
        final int batches;
        /** The first layer's learning rate in this epoch: the rate metrics.csv and the log report. */
        final double learningRate;
        int batch;
        double lossSum;
        long images;
        int trained;
        double badLoss;

        EpochRun(int epoch, int batch, long start, Progress progress) {
            this.epoch = epoch;
            this.batch = batch;
            this.start = start;
            this.progress = progress;
            this.batches = train instanceof SeededEpochs seeded ? seeded.numBatches() : 0;
            this.learningRate = network.learningRates().values().stream().findFirst().orElse(Double.NaN);
        }

        @Override
        public synchronized Status trained(double loss, int examples) {
            batch++;
            if (!Double.isFinite(loss)) {
                badLoss = loss;
                return Status.DIVERGED;
            }
            lossSum += loss;
            trained++;
            images += examples;
            double seconds = (System.nanoTime() - start) / 1e9;
            int epochs = settings.epochs();
            double perBatch = seconds / trained;
            progress.update(epoch + 1, epochs, batch, batches, lossSum / trained, images / seconds,
                    (batches - batch) * perBatch + (epochs - epoch - 1) * batches * perBatch);
            return stopRequested ? Status.INTERRUPTED : null;
        }
    }

    /** Tests the best model (where test data was given) and stores the result in the run and its model files. */
    private Result finish(Status status) throws IOException {
        // DL4J keeps a step's activations and gradients in this thread's workspaces for the next step; none is needed
        // to test. Freed first, the test's network and activations take their place instead of adding to the process's
        // peak (training/benchmarks/README.md, "Checkpoints and the final test"); a later fit makes them again. Not
        // while a caller has a workspace open on this thread.
        if (!Nd4j.getWorkspaceManager().anyWorkspaceActiveForCurrentThread()) {
            Nd4j.getWorkspaceManager().destroyAllWorkspacesForCurrentThread();
        }
        EvaluationReport tested = test == null ? null : test(run.bestOrLast());
        String message = run.finish(status, state, tested, resultDetails.get());
        return new Result(status, run.path(), state.epochsDone(), tested, message);
    }

    /** The model in {@code file} on the test data, run as inference is ({@link InferenceCopy}). */
    private EvaluationReport test(Path file) throws IOException {
        Model trained = ModelFile.readNetwork(file);
        Model net;
        try {
            net = InferenceCopy.forInference(trained);
        } catch (RuntimeException | Error e) {
            trained.close();
            throw e;
        }
        if (net != trained) {
            trained.close(); // the copy holds its own parameters: the file's network is not kept beside it
        }
        try {
            return EvaluationReport.of(net, test, labels, null);
        } finally {
            net.close();
        }
    }

    private void checkpoint(Path file, boolean withUpdater) throws IOException {
        Map<String, String> entries = new LinkedHashMap<>(modelEntries);
        entries.put(ModelFile.STATE, Configs.toJson(state));
        entries.put(ModelFile.LOOP, Configs.toJson(settings));
        ModelFile.save(file, network.model(), withUpdater, entries);
    }

    private static List<String> labelsOf(DataSetIterator train) {
        List<String> labels = train.getLabels();
        if (labels != null && !labels.isEmpty()) {
            return List.copyOf(labels);
        }
        List<String> numbered = new ArrayList<>();
        for (int i = 0; i < train.totalOutcomes(); i++) {
            numbered.add(String.valueOf(i));
        }
        return numbered;
    }

    /**
     * The unscheduled rates of a checkpoint that did not record them (written before they were): its rates divided by
     * the factor its last epoch ran at.
     */
    private static Map<String, Double> unscaledRates(Map<String, Double> current, TrainingState s, LoopSettings loop) {
        int last = s.batchesDone() > 0 ? s.epochsDone() : Math.max(0, s.epochsDone() - 1);
        double factor = loop.schedule().factor(last, loop.epochs());
        Map<String, Double> base = new LinkedHashMap<>();
        current.forEach((layer, rate) -> base.put(layer, factor > 0 ? rate / factor : rate));
        return base;
    }
}
