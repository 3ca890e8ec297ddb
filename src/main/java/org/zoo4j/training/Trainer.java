package org.zoo4j.training;

import org.zoo4j.data.AtomicFiles;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.GradientNormalization;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.parallelism.ParallelWrapper;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.regularization.WeightDecay;
import org.zoo4j.data.DataPipeline;
import org.zoo4j.data.ImageBatchIterator;
import org.zoo4j.runtime.Backend;
import org.zoo4j.runtime.BackendInfo;
import org.zoo4j.runtime.LayerHelpers;
import org.zoo4j.transfer.FineTune;
import org.zoo4j.zoo.Configs;
import org.zoo4j.zoo.ModelRegistry;
import org.zoo4j.zoo.NetworkConfig;
import org.zoo4j.zoo.Zoo;

/**
 * Trains a {@link TrainingRecipe} into a run directory:
 * <pre>
 *   recipe.yaml    the resolved recipe: ./zoo4j train RUN/recipe.yaml runs it again
 *   metrics.csv    one line per epoch
 *   last.zip       checkpoint after every epoch (and on Ctrl-C), with optimiser state: what --resume reads
 *   best.zip       the model with the best validation metric so far
 *   results.json   test metrics of the best model, when the run ends
 *   train.log      what the run printed
 * </pre>
 * Every file is replaced atomically, so a run killed at any moment loses at most the current epoch.
 */
public final class Trainer implements AutoCloseable {
    public enum Status { COMPLETED, EARLY_STOPPED, DIVERGED, INTERRUPTED, PRUNED }

    /** How a run ended; {@code test} is null unless it completed or stopped early. */
    public record Result(Status status, Path runDir, int epochsDone, Evaluation test, String message) {
    }

    private final TrainingRecipe recipe;
    private final Path runDir;
    private final PrintStream console;
    private final DataPipeline data;
    private final ComputationGraph net;
    private final double baseLearningRate;
    private TrainingState state;
    private volatile boolean stopRequested;
    private final CountDownLatch finished = new CountDownLatch(1);
    /** Lets tests alter batches (to inject NaN); the identity otherwise. */
    UnaryOperator<DataSet> batchHook = UnaryOperator.identity();
    /** Told each finished epoch (after its checkpoint); a non-null answer stops the run as PRUNED with that reason. */
    private java.util.function.Function<EpochMetrics, String> epochListener = m -> null;
    /** Devices trained on at once: the recipe's gpus (tests set it on CPU, where DL4J's wrapper runs too). */
    int parallelWorkers;
    private ParallelWrapper wrapper;

    private Trainer(TrainingRecipe recipe, Path runDir, PrintStream console, ComputationGraph net, TrainingState state,
                    DataPipeline data) {
        this.recipe = recipe;
        this.runDir = runDir;
        this.console = console;
        this.net = net;
        LayerHelpers.install(net);
        this.state = state;
        this.data = data;
        this.baseLearningRate = recipe.modelConfig().updater().learningRate();
        this.parallelWorkers = recipe.gpus();
    }

    /** A new run of {@code recipe} in {@code runDir}, which must not hold a run already. */
    public static Trainer start(TrainingRecipe recipe, Path runDir, PrintStream console) throws IOException {
        if (Files.exists(runDir.resolve("recipe.yaml"))) {
            throw new IllegalArgumentException(runDir + " already holds a run; resume it with --resume " + runDir
                    + " or choose another --out");
        }
        checkDevice(recipe);
        NetworkConfig checked = recipe.modelConfig();
        DataPipeline data = DataPipeline.open(recipe.data(), checked.input());
        try {
            ComputationGraph net = build(recipe, data.labels().size());
            Files.createDirectories(runDir); // only once data and network are there: a bad command leaves nothing
            if (NetworkFile.isNetworkFile(recipe.model())) {
                // The run keeps its own copy, so that its recipe.yaml runs again as it is wherever the run goes.
                Path copy = runDir.resolve(NetworkFile.RUN_FILE);
                if (!Files.exists(copy) || !Files.isSameFile(copy, Path.of(recipe.model()))) {
                    AtomicFiles.writeString(copy, Files.readString(Path.of(recipe.model())));
                }
            }
            saveRecipe(runDir, recipe);
            Trainer t = new Trainer(recipe, runDir, console, net, TrainingState.start(), data);
            t.log("run " + runDir + ": " + recipe.model() + " on " + recipe.data().dataset() + ", " + recipe.epochs()
                    + " epochs, " + String.format(Locale.ROOT, "%,d", net.numParams()) + " parameters");
            return t;
        } catch (RuntimeException | IOException e) {
            data.close();
            throw e;
        }
    }

    /**
     * Continues the run in {@code runDir} from its last checkpoint: same epoch, batch, optimiser state and schedule
     * position. {@code settings} may change the recipe (more epochs, for instance) before it continues.
     */
    public static Trainer resume(Path runDir, Map<String, String> settings, PrintStream console) throws IOException {
        Path checkpoint = runDir.resolve("last.zip");
        if (!Files.isRegularFile(runDir.resolve("recipe.yaml"))) {
            throw new IllegalArgumentException(runDir + " is not a run directory (no recipe.yaml)");
        }
        if (!Files.isRegularFile(checkpoint)) {
            throw new IllegalArgumentException(runDir + " has no checkpoint yet (no last.zip): the run stopped during "
                    + "its first epoch; start it again with ./zoo4j train " + runDir.resolve("recipe.yaml"));
        }
        TrainingRecipe recipe = TrainingRecipe.read(runDir.resolve("recipe.yaml")).with(settings);
        checkDevice(recipe);
        ModelFile.Loaded loaded = ModelFile.load(checkpoint, true);
        if (loaded.state() == null) {
            throw new IllegalArgumentException(checkpoint + " holds no training state; it is not a checkpoint");
        }
        if (!settings.isEmpty()) {
            saveRecipe(runDir, recipe);
        }
        DataPipeline data = DataPipeline.open(recipe.data(), loaded.preprocessing().input());
        Trainer t = new Trainer(recipe, runDir, console, loaded.net(), loaded.state(), data);
        t.log("resuming " + runDir + " after epoch " + loaded.state().epochsDone()
                + (loaded.state().batchesDone() > 0 ? " and " + loaded.state().batchesDone() + " batches" : ""));
        return t;
    }

    /** The run's recipe.yaml; a network file is named as the run's own copy, relative to the run directory. */
    private static void saveRecipe(Path runDir, TrainingRecipe recipe) throws IOException {
        TrainingRecipe saved = NetworkFile.isNetworkFile(recipe.model())
                ? recipe.withModel(NetworkFile.RUN_FILE, recipe.overrides()) : recipe;
        AtomicFiles.writeString(runDir.resolve("recipe.yaml"), saved.toYaml());
    }

    private static void checkDevice(TrainingRecipe recipe) {
        BackendInfo backend = Backend.init();
        boolean cuda = backend.backend().toUpperCase(Locale.ROOT).contains("CUDA");
        if (recipe.device().equals("cuda") && !cuda) {
            throw new IllegalArgumentException("device: cuda asked for, but this build runs ND4J on " + backend.backend()
                    + "; build with ZOO4J_MVN_ARGS=-Pcuda ./zoo4j ... on a machine with an NVIDIA GPU, or set device=cpu");
        }
        if (recipe.gpus() > 1) {
            int devices = cuda ? Nd4j.getAffinityManager().getNumberOfDevices() : 0;
            if (devices < recipe.gpus()) {
                throw new IllegalArgumentException("gpus: " + recipe.gpus() + " GPUs asked for, but "
                        + (cuda ? "this machine has " + devices : "this build runs on the CPU (build with "
                        + "ZOO4J_MVN_ARGS=-Pcuda on a machine with NVIDIA GPUs)") + "; set gpus=" + Math.max(1, devices));
            }
        }
    }

    /** The network with the recipe's weight decay and gradient clipping set on every layer, initialised. */
    static ComputationGraph build(TrainingRecipe recipe, int numClasses) {
        boolean networkFile = NetworkFile.isNetworkFile(recipe.model());
        ModelRegistry.Entry<?> entry = networkFile ? null : Zoo.get(recipe.model());
        // For a network file this also checks its output layer against the data's classes.
        NetworkConfig described = networkFile ? NetworkFile.describe(Path.of(recipe.model()),
                recipe.modelOverrides(numClasses)) : null;
        ComputationGraphConfiguration conf = networkFile ? NetworkFile.read(Path.of(recipe.model()))
                : configure(entry, recipe.modelOverrides(numClasses));
        for (GraphVertex vertex : conf.getVertices().values()) {
            if (vertex instanceof LayerVertex lv && lv.getLayerConf().getLayer() instanceof BaseLayer layer) {
                if (recipe.weightDecay() > 0) {
                    // Scaled by the learning rate, like the decoupled-from-loss decay of torch.optim.SGD.
                    layer.setRegularization(List.of(new WeightDecay(recipe.weightDecay(), true)));
                }
                if (recipe.clipGradientNorm() > 0) {
                    layer.setGradientNormalization(GradientNormalization.ClipL2PerLayer);
                    layer.setGradientNormalizationThreshold(recipe.clipGradientNorm());
                }
            }
        }
        ComputationGraph graph;
        if (networkFile) {
            graph = NetworkFile.create(conf, described.input(), Path.of(recipe.model()));
        } else {
            graph = new ComputationGraph(conf);
            graph.init();
            initialize(entry, recipe.modelOverrides(numClasses), graph);
        }
        return recipe.finetune() == null ? graph : FineTune.apply(recipe.finetune(), graph);
    }

    private static <C extends NetworkConfig> ComputationGraphConfiguration configure(ModelRegistry.Entry<C> e,
                                                                                    Map<String, Object> overrides) {
        return ModelRegistry.Models.configure(e.family(), e.name(), e.config(overrides));
    }

    private static <C extends NetworkConfig> void initialize(ModelRegistry.Entry<C> e, Map<String, Object> overrides,
                                                             ComputationGraph graph) {
        e.family().initialize(e.config(overrides), graph);
    }

    public ComputationGraph net() {
        return net;
    }

    public TrainingState state() {
        return state;
    }

    public Path runDir() {
        return runDir;
    }

    /**
     * Reports every finished epoch to {@code listener}, which may stop the run by returning a reason (a sweep's
     * pruner); the checkpoint of that epoch is written first, so a pruned run can still be resumed.
     */
    public Trainer onEpoch(java.util.function.Function<EpochMetrics, String> listener) {
        this.epochListener = listener;
        return this;
    }

    /** Asks the run to stop after the current batch and write a checkpoint (Ctrl-C). */
    public void requestStop() {
        stopRequested = true;
    }

    /** Waits until {@link #run} has returned; for a shutdown hook. */
    public boolean awaitFinished(long seconds) throws InterruptedException {
        return finished.await(seconds, TimeUnit.SECONDS);
    }

    public Result run() throws IOException {
        try {
            return train();
        } finally {
            finished.countDown();
        }
    }

    private Result train() throws IOException {
        ImageBatchIterator train = data.train();
        int batches = train.numBatches();
        int epochs = recipe.epochs();
        Progress progress = new Progress(console, Progress.stdoutIsTerminal());
        while (state.epochsDone() < epochs) {
            int epoch = state.epochsDone();
            double lr = baseLearningRate * recipe.schedule().factor(epoch, epochs);
            if (lr != currentLearningRate()) {
                FineTune.setLearningRate(net, recipe.finetune(), lr, baseLearningRate); // the head may have its own
            }
            long start = System.nanoTime();
            train.setEpoch(epoch);
            int batch = 0;
            for (; batch < state.batchesDone() && train.hasNext(); batch++) {
                train.next(); // already trained before the interruption: same order, so skip them
            }
            EpochRun run = new EpochRun(epoch, batch, batches, start, progress);
            Status stopped = parallelWorkers > 1 ? fitParallel(train, run) : fitSequential(train, run);
            if (stopped == Status.DIVERGED) {
                progress.endLine();
                String kept = state.epochsDone() > 0 || state.batchesDone() > 0
                        ? "the last good checkpoint " + runDir.resolve("last.zip") + " (after epoch "
                        + state.epochsDone() + ") is kept" : "no checkpoint had been written yet";
                String message = String.format(Locale.ROOT, "loss became %s at epoch %d, batch %d/%d; stopped; %s. "
                        + "Lower the learning rate (--set overrides.updater.learningRate=...) or set clipGradientNorm, "
                        + "then --resume %s", run.badLoss, epoch + 1, run.batch, batches, kept, runDir);
                log(message);
                return new Result(Status.DIVERGED, runDir, state.epochsDone(), null, message);
            }
            if (stopped == Status.INTERRUPTED) {
                progress.endLine();
                state = new TrainingState(epoch, run.batch, state.bestEpoch(), state.bestMetric(), state.sinceBest(),
                        state.history());
                checkpoint(runDir.resolve("last.zip"), true);
                String message = "interrupted at epoch " + (epoch + 1) + ", batch " + run.batch + "/" + batches
                        + "; checkpoint written; continue with ./zoo4j train --resume " + runDir;
                log(message);
                return new Result(Status.INTERRUPTED, runDir, epoch, null, message);
            }
            double lossSum = run.lossSum;
            long images = run.images;
            int trained = run.trained;
            progress.endLine();
            double trainSeconds = (System.nanoTime() - start) / 1e9;
            Evaluation validation = data.validationSize() > 0
                    ? Evaluation.of(net, data.validation(), data.labels(), null) : null;
            double seconds = (System.nanoTime() - start) / 1e9;
            EpochMetrics m = new EpochMetrics(epoch + 1, lr, trained == 0 ? Double.NaN : lossSum / trained,
                    validation == null ? Double.NaN : validation.loss(),
                    validation == null ? Double.NaN : validation.accuracy(), seconds, images / trainSeconds);
            List<EpochMetrics> history = new ArrayList<>(state.history());
            history.add(m);
            double metric = validation == null ? -m.trainLoss()
                    : recipe.monitor().equals("loss") ? -validation.loss() : validation.accuracy();
            boolean improved = state.bestEpoch() == 0 || metric > state.bestMetric();
            state = new TrainingState(epoch + 1, 0, improved ? epoch + 1 : state.bestEpoch(),
                    improved ? metric : state.bestMetric(), improved ? 0 : state.sinceBest() + 1, history);
            // The checkpoint first: metrics.csv is rewritten from it, so the two never disagree after a kill.
            checkpoint(runDir.resolve("last.zip"), true);
            if (improved) {
                checkpoint(runDir.resolve("best.zip"), false);
            }
            AtomicFiles.writeString(runDir.resolve("metrics.csv"), EpochMetrics.csv(history));
            log(String.format(Locale.ROOT, "epoch %d/%d: lr %.3g, train loss %.4f, validation loss %.4f, validation "
                            + "accuracy %.2f%%, %.0f img/s, %s%s", epoch + 1, epochs, lr, m.trainLoss(),
                    m.validationLoss(), 100 * m.validationAccuracy(), m.imagesPerSecond(), Progress.duration(seconds),
                    improved ? " (best)" : ""));
            String pruned = epochListener.apply(m);
            if (pruned != null) {
                log("pruned after epoch " + (epoch + 1) + ": " + pruned);
                return new Result(Status.PRUNED, runDir, state.epochsDone(), null, pruned);
            }
            if (recipe.earlyStopping() > 0 && state.sinceBest() >= recipe.earlyStopping()) {
                log("early stopping: validation " + recipe.monitor() + " has not improved for " + state.sinceBest()
                        + " epochs (best at epoch " + state.bestEpoch() + ")");
                return finish(Status.EARLY_STOPPED);
            }
            if (stopRequested) {
                String message = "interrupted after epoch " + (epoch + 1) + "; continue with ./zoo4j train --resume " + runDir;
                log(message);
                return new Result(Status.INTERRUPTED, runDir, state.epochsDone(), null, message);
            }
        }
        return finish(Status.COMPLETED);
    }

    /** One epoch's running totals; {@link #onBatch} is where every trained batch is counted, checked and shown. */
    private final class EpochRun {
        final int epoch;
        final int batches;
        final long start;
        final Progress progress;
        int batch;
        double lossSum;
        long images;
        int trained;
        double badLoss;

        EpochRun(int epoch, int batch, int batches, long start, Progress progress) {
            this.epoch = epoch;
            this.batch = batch;
            this.batches = batches;
            this.start = start;
            this.progress = progress;
        }

        /** Counts a trained batch; says why the epoch must end now (a bad loss, a stop request), or null. */
        synchronized Status onBatch(double loss, int examples) {
            batch++;
            if (!Double.isFinite(loss)) {
                badLoss = loss;
                return Status.DIVERGED;
            }
            lossSum += loss;
            trained++;
            images += examples;
            double seconds = (System.nanoTime() - start) / 1e9;
            int epochs = recipe.epochs();
            double perBatch = seconds / trained;
            progress.update(epoch + 1, epochs, batch, batches, lossSum / trained, images / seconds,
                    (batches - batch) * perBatch + (epochs - epoch - 1) * batches * perBatch);
            return stopRequested ? Status.INTERRUPTED : null;
        }
    }

    private Status fitSequential(ImageBatchIterator train, EpochRun run) {
        while (train.hasNext()) {
            DataSet ds = batchHook.apply(train.next());
            net.fit(ds);
            Status stop = run.onBatch(net.score(), ds.numExamples());
            if (stop != null) {
                return stop;
            }
        }
        return null;
    }

    /**
     * One epoch data-parallel on {@link #parallelWorkers} devices with DL4J's ParallelWrapper: each worker trains its
     * own batch and the parameters (and updater state) are averaged after every step, so {@code N} workers train
     * like one with an N times larger batch. Batches are handed out in the same order as in one-device training.
     */
    private Status fitParallel(ImageBatchIterator train, EpochRun run) {
        if (wrapper == null) {
            wrapper = new ParallelWrapper.Builder<>(net).workers(parallelWorkers).averagingFrequency(1)
                    .averageUpdaters(true).prefetchBuffer(2).reportScoreAfterAveraging(false)
                    .trainingMode(ParallelWrapper.TrainingMode.AVERAGING).build();
        }
        java.util.concurrent.atomic.AtomicReference<Status> stop = new java.util.concurrent.atomic.AtomicReference<>();
        java.util.concurrent.ConcurrentLinkedQueue<Integer> sizes = new java.util.concurrent.ConcurrentLinkedQueue<>();
        wrapper.setListeners(new org.deeplearning4j.optimize.api.BaseTrainingListener() {
            @Override
            public void iterationDone(org.deeplearning4j.nn.api.Model model, int iteration, int epoch) {
                if (stop.get() == null) {
                    Integer examples = sizes.poll();
                    Status s = run.onBatch(model.score(), examples == null ? 0 : examples);
                    if (s != null) {
                        stop.compareAndSet(null, s);
                    }
                }
            }
        });
        wrapper.fit(new org.nd4j.linalg.dataset.api.iterator.DataSetIterator() {
            @Override
            public boolean hasNext() {
                return stop.get() == null && !stopRequested && train.hasNext();
            }

            @Override
            public DataSet next() {
                DataSet ds = batchHook.apply(train.next());
                sizes.add(ds.numExamples());
                return ds;
            }

            @Override
            public DataSet next(int num) {
                throw new UnsupportedOperationException();
            }

            @Override
            public int inputColumns() {
                return train.inputColumns();
            }

            @Override
            public int totalOutcomes() {
                return train.totalOutcomes();
            }

            @Override
            public boolean resetSupported() {
                return false;
            }

            @Override
            public boolean asyncSupported() {
                return false;
            }

            @Override
            public void reset() {
                throw new UnsupportedOperationException("one pass per epoch");
            }

            @Override
            public int batch() {
                return train.batch();
            }

            @Override
            public void setPreProcessor(org.nd4j.linalg.dataset.api.DataSetPreProcessor preProcessor) {
                throw new UnsupportedOperationException();
            }

            @Override
            public org.nd4j.linalg.dataset.api.DataSetPreProcessor getPreProcessor() {
                return null;
            }

            @Override
            public List<String> getLabels() {
                return train.getLabels();
            }
        });
        if (wrapper.getException() != null) {
            throw new IllegalStateException("data-parallel training failed: " + wrapper.getException(),
                    wrapper.getException());
        }
        return stop.get() != null ? stop.get() : stopRequested ? Status.INTERRUPTED : null;
    }

    private double currentLearningRate() {
        Double lr = net.getLearningRate(net.getLayer(0).conf().getLayer().getLayerName());
        return lr == null ? Double.NaN : lr;
    }

    /** Tests the best model on the test split and stores the result in the run and in the model files. */
    private Result finish(Status status) throws IOException {
        Path best = runDir.resolve(Files.exists(runDir.resolve("best.zip")) ? "best.zip" : "last.zip");
        ModelFile.Loaded model = ModelFile.load(best, false);
        Evaluation test = Evaluation.of(model.net(), data.test(), data.labels(), null);
        Map<String, Object> metrics = new LinkedHashMap<>();
        metrics.put("status", status.name().toLowerCase(Locale.ROOT));
        metrics.put("epochs", state.epochsDone());
        metrics.put("bestEpoch", state.bestEpoch());
        metrics.put("testImages", test.count());
        metrics.put("testAccuracy", test.accuracy());
        if (!Double.isNaN(test.top5())) {
            metrics.put("testTop5", test.top5());
        }
        metrics.put("testLoss", test.loss());
        metrics.put("trainSeconds", state.history().stream().mapToDouble(EpochMetrics::seconds).sum());
        metrics.put("confusion", test.confusion());
        String json = Configs.toJson(metrics);
        ModelFile.putEntries(best, Map.of(ModelFile.METRICS, json));
        if (!best.getFileName().toString().equals("last.zip")) {
            ModelFile.putEntries(runDir.resolve("last.zip"), Map.of(ModelFile.METRICS, json));
        }
        AtomicFiles.writeString(runDir.resolve("results.json"), json);
        try {
            Plots.writeAll(runDir, state.history(), test);
        } catch (RuntimeException | IOException e) {
            log("could not draw the plots: " + e);
        }
        String message = String.format(Locale.ROOT, "test accuracy %.2f%%%s (best epoch %d of %d, %s model); run in %s",
                100 * test.accuracy(), Double.isNaN(test.top5()) ? "" : String.format(Locale.ROOT, ", top-5 %.2f%%",
                        100 * test.top5()), state.bestEpoch(), state.epochsDone(), best.getFileName(), runDir);
        log(message);
        return new Result(status, runDir, state.epochsDone(), test, message);
    }

    private void checkpoint(Path file, boolean withUpdater) throws IOException {
        ModelFile.save(file, net, withUpdater, ModelFile.entries(recipe, data.labels(), data.normalizer(),
                data.shape(), state));
    }

    private void log(String line) {
        console.println(line);
        String stamped = LocalDateTime.now().format(DateTimeFormatter.ISO_LOCAL_DATE_TIME) + " " + line + "\n";
        try {
            Files.writeString(runDir.resolve("train.log"), stamped, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND);
        } catch (IOException e) {
            console.println("(could not write train.log: " + e.getMessage() + ")");
        }
    }

    /** A fresh run directory name: runs/MODEL-DATASET-yyyyMMdd-HHmmss. */
    public static Path defaultRunDir(TrainingRecipe recipe) {
        String dataset = recipe.data().dataset().replaceAll("[^A-Za-z0-9._-]+", "_");
        String model = Path.of(recipe.model()).getFileName().toString().replaceFirst("\\.json$", "");
        return Path.of("runs", model + "-" + dataset + "-"
                + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
    }

    @Override
    public void close() {
        if (wrapper != null) {
            wrapper.shutdown();
        }
        data.close();
    }
}
