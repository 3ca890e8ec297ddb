package org.zoo4j.training;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.factory.Nd4j;
import org.zoo4j.base.AtomicFiles;
import org.zoo4j.base.ConfigException;
import org.zoo4j.base.InputShape;
import org.zoo4j.base.Provenance;
import org.zoo4j.data.DataPipeline;
import org.zoo4j.data.Normalization;
import org.zoo4j.modelfile.ModelFile;
import org.zoo4j.modelfile.ModelFileException;
import org.zoo4j.modelfile.TrainingState;
import org.zoo4j.recipe.Device;
import org.zoo4j.recipe.TrainingRecipe;
import org.zoo4j.runtime.Backend;
import org.zoo4j.runtime.BackendInfo;
import org.zoo4j.runtime.LayerHelpers;
import org.zoo4j.transfer.FineTuner;
import org.zoo4j.zoo.Dl4jNetworkFile;

/**
 * Trains a {@link TrainingRecipe} into a run directory: the recipe's network ({@link RecipeNetworks}) on the recipe's
 * data ({@link DataPipeline}) through the {@link TrainingLoop}. Besides the loop's files (see {@link RunDirectory}) the
 * run keeps its resolved {@code recipe.yaml}, which {@code ./zoo4j train RUN/recipe.yaml} runs again, and its model
 * files carry the recipe, labels, normaliser and card, so that each is usable on its own.
 */
public final class Trainer implements AutoCloseable {
    /** The file a run keeps its resolved recipe in. */
    public static final String RECIPE_FILE = "recipe.yaml";

    private final DataPipeline data;
    private final TrainingLoop loop;
    /** The cluster the epochs train on (a recipe's spark: section), or null. */
    private final DistributedTraining.Session cluster;

    private Trainer(DataPipeline data, TrainingLoop loop, DistributedTraining.Session cluster) {
        this.data = data;
        this.loop = loop;
        this.cluster = cluster;
    }

    /** A new run of {@code recipe} in {@code runDir}, which must not hold a run already. */
    public static Trainer start(TrainingRecipe recipe, Path runDir, PrintStream console) throws IOException {
        return start(recipe, runDir, console, TrainingHooks.NONE);
    }

    /** As {@link #start(TrainingRecipe, Path, PrintStream)}, with a listener or batch filter attached. */
    public static Trainer start(TrainingRecipe recipe, Path runDir, PrintStream console, TrainingHooks hooks)
            throws IOException {
        if (Files.exists(runDir.resolve(RECIPE_FILE))) {
            throw new ConfigException(runDir + " already holds a run; continue it with ./zoo4j train --resume "
                    + runDir + ", or choose another --out");
        }
        return begin(recipe, runDir, console, hooks);
    }

    /** The recipe's network and data, fresh, in {@code runDir}; nothing is written before both are there. */
    private static Trainer begin(TrainingRecipe recipe, Path runDir, PrintStream console, TrainingHooks hooks)
            throws IOException {
        checkDevice(recipe);
        InputShape input = recipe.modelConfig().input();
        Normalization kept = recipe.finetune() == null ? null
                : FineTuner.sourceNormalization(recipe.finetune(), input.channels()).orElse(null);
        DistributedTraining distributed = recipe.onSpark() ? DistributedTraining.find() : null;
        DataPipeline data = DataPipeline.open(recipe.data(), input, kept);
        DistributedTraining.Session cluster = null;
        try {
            ComputationGraph net = RecipeNetworks.build(recipe, data.labels().size());
            if (distributed != null) {
                cluster = distributed.open(recipe, data, net, runDir, console);
            }
            createRunDirectory(runDir); // only once data, network and cluster are there: a bad command leaves nothing
            if (Dl4jNetworkFile.isNetworkFile(recipe.model())) {
                // The run keeps its own copy, so that its recipe.yaml runs again as it is wherever the run goes.
                Path copy = runDir.resolve(Dl4jNetworkFile.RUN_FILE);
                if (!Files.exists(copy) || !Files.isSameFile(copy, Path.of(recipe.model()))) {
                    AtomicFiles.writeString(copy, Files.readString(Path.of(recipe.model())));
                }
            }
            saveRecipe(runDir, recipe);
            Trainer t = new Trainer(data, loop(recipe, data, net, null, runDir, console, hooks, cluster), cluster);
            t.log("run " + runDir + ": " + recipe.model() + " on " + recipe.data().dataset() + ", " + recipe.epochs()
                    + " epochs, " + String.format(Locale.ROOT, "%,d", net.numParams()) + " parameters");
            t.logWorkers(recipe);
            if (recipe.finetune() != null) {
                t.log(kept != null ? "normalisation: the source model's, kept (" + kept + "), as its weights were "
                        + "trained with it; finetune.refitNormalization=true fits one on this data instead"
                        : "normalisation: fitted on this data (" + data.normalizer() + ")");
            }
            return t;
        } catch (RuntimeException | IOException e) {
            if (cluster != null) {
                cluster.close();
            }
            data.close();
            throw e;
        }
    }

    /** The run directory, or an error that says why it cannot be one (a file, a folder that cannot be written). */
    private static void createRunDirectory(Path runDir) {
        try {
            Files.createDirectories(runDir);
            if (!Files.isWritable(runDir)) {
                throw new AccessDeniedException(runDir.toString());
            }
        } catch (FileAlreadyExistsException e) {
            throw new ConfigException("--out: " + runDir + " is a file, not a folder; give a folder for the run");
        } catch (IOException e) {
            throw new ConfigException("--out: cannot create or write the run directory " + runDir + " ("
                    + e.getClass().getSimpleName() + ": " + e.getMessage() + "); choose a folder you can write to");
        }
    }

    /**
     * Continues the run in {@code runDir} from its last checkpoint: same epoch, batch, optimiser state and schedule
     * position; a run stopped before its first checkpoint starts again from its beginning. {@code settings} may change
     * the recipe (more epochs, a lower learning rate) before it continues.
     */
    public static Trainer resume(Path runDir, Map<String, String> settings, PrintStream console) throws IOException {
        return resume(runDir, settings, console, TrainingHooks.NONE);
    }

    /** As {@link #resume(Path, Map, PrintStream)}, with a listener or batch filter attached. */
    public static Trainer resume(Path runDir, Map<String, String> settings, PrintStream console,
                                 TrainingHooks hooks) throws IOException {
        if (!Files.isRegularFile(runDir.resolve(RECIPE_FILE))) {
            throw new ConfigException(runDir + " is not a run directory (no " + RECIPE_FILE + "); start a run with "
                    + "./zoo4j train RECIPE --out " + runDir);
        }
        RunDirectory run = new RunDirectory(runDir, console);
        run.recover();
        TrainingRecipe recipe = TrainingRecipe.read(runDir.resolve(RECIPE_FILE)).with(settings);
        if (!Files.isRegularFile(run.last())) {
            run.log("no checkpoint yet (the run stopped in its first epoch): starting again from the beginning");
            saveRecipe(runDir, recipe);
            return begin(recipe, runDir, console, hooks);
        }
        checkDevice(recipe);
        DistributedTraining distributed = recipe.onSpark() ? DistributedTraining.find() : null;
        ModelFile.Loaded loaded = ModelFile.load(run.last(), true);
        if (loaded.state() == null) {
            throw new ModelFileException(run.last() + " holds no training state; it is not a checkpoint");
        }
        if (!settings.isEmpty()) {
            saveRecipe(runDir, recipe);
        }
        // the checkpoint's normaliser, as the network was trained with it (a fine-tuned run's is not refitted)
        DataPipeline data = DataPipeline.open(recipe.data(), loaded.preprocessing().input(), loaded.normalization());
        DistributedTraining.Session cluster = null;
        try {
            if (distributed != null) {
                cluster = distributed.open(recipe, data, loaded.net(), runDir, console);
            }
            Trainer t = new Trainer(data, loop(recipe, data, loaded.net(), loaded.state(), runDir, console, hooks,
                    cluster), cluster);
            t.log("resuming " + runDir + " after epoch " + loaded.state().epochsDone()
                    + (loaded.state().batchesDone() > 0 ? " and " + loaded.state().batchesDone() + " batches" : ""));
            if (cluster != null) {
                t.log(cluster.describe());
            }
            return t;
        } catch (RuntimeException | IOException e) {
            if (cluster != null) {
                cluster.close();
            }
            data.close();
            throw e;
        }
    }

    private static TrainingLoop loop(TrainingRecipe recipe, DataPipeline data, ComputationGraph net,
                                     TrainingState state, Path runDir, PrintStream console, TrainingHooks hooks,
                                     DistributedTraining.Session cluster) {
        LayerHelpers.installForTraining(net);
        return TrainingLoop.builder(net, data.train()).distributed(cluster)
                .validation(data.validationSize() > 0 ? data.validation() : null)
                .test(data.test()).labels(data.labels()).settings(recipe.loop()).runDirectory(runDir)
                .console(console).hooks(hooks).state(state).resumeAdvice("./zoo4j train --resume " + runDir)
                .statsEvery(recipe.statsEvery())
                .modelEntries(ModelFile.entries(recipe, data.labels(), data.normalizer(), data.shape()))
                .resultDetails(() -> skipped(data)).build();
    }

    /** The images the data could not read, for results.json: their count, and the files when there are few. */
    private static Map<String, Object> skipped(DataPipeline data) {
        List<Path> files = data.skippedFiles();
        Map<String, Object> details = new LinkedHashMap<>();
        details.put("skippedImages", files.size());
        if (!files.isEmpty()) {
            details.put("skippedFiles", files.stream().limit(100).map(Path::toString).toList());
        }
        return details;
    }

    /** The run's recipe.yaml; a network file is named as the run's own copy, relative to the run directory. */
    private static void saveRecipe(Path runDir, TrainingRecipe recipe) throws IOException {
        TrainingRecipe saved = Dl4jNetworkFile.isNetworkFile(recipe.model())
                ? recipe.withModel(Dl4jNetworkFile.RUN_FILE, recipe.overrides()) : recipe;
        AtomicFiles.writeString(runDir.resolve(RECIPE_FILE), saved.toYaml());
    }

    /** Starts the native backend (this is an entry point) and checks it can run the recipe. */
    private static void checkDevice(TrainingRecipe recipe) {
        BackendInfo backend = Backend.init();
        boolean cuda = backend.backend().toUpperCase(Locale.ROOT).contains("CUDA");
        if (recipe.device() == Device.CUDA && !cuda) {
            throw new ConfigException("device: cuda asked for, but this build runs ND4J on " + backend.backend()
                    + "; build with ZOO4J_MVN_ARGS=-Pcuda ./zoo4j ... on a machine with an NVIDIA GPU, or set device=cpu");
        }
        int devices = cuda ? Nd4j.getAffinityManager().getNumberOfDevices() : 0;
        if (cuda && recipe.workers() > devices) {
            throw new ConfigException("workers: " + recipe.workers() + " GPUs asked for, but this machine has "
                    + devices + "; set workers=" + Math.max(1, devices));
        }
    }

    /** With several workers, says what they change: the batch per step, and not the learning rate. */
    private void logWorkers(TrainingRecipe recipe) {
        if (cluster != null) {
            log(cluster.describe());
            return;
        }
        int workers = recipe.workers();
        if (workers > 1) {
            log(String.format(Locale.ROOT, "data-parallel: %d workers (%s), each on its own batch of %d: %d images "
                            + "per averaged step. The learning rate is not scaled for it (with plain SGD the linear "
                            + "scaling rule suggests %d x the rate)", workers,
                    recipe.device() == Device.CUDA ? "one per GPU" : "replicas sharing the CPU cores",
                    recipe.data().batchSize(), workers * recipe.data().batchSize(), workers));
        }
    }

    public ComputationGraph net() {
        return (ComputationGraph) loop.network();
    }

    public TrainingState state() {
        return loop.state();
    }

    public Path runDir() {
        return loop.runDirectory().path();
    }

    /** Records in the run directory how this start of the run came about ({@link RunDirectory#recordStart}). */
    public void recordStart(Provenance start) throws IOException {
        loop.runDirectory().recordStart(start, state().epochsDone());
    }

    /** Asks the run to stop after the current batch and write a checkpoint (Ctrl-C). */
    public void requestStop() {
        loop.requestStop();
    }

    /** Waits until {@link #run} has returned; for a shutdown hook. */
    public boolean awaitFinished(long seconds) throws InterruptedException {
        return loop.awaitFinished(seconds);
    }

    public TrainingLoop.Result run() throws IOException {
        return loop.run();
    }

    private void log(String line) {
        loop.runDirectory().log(line);
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
        try {
            if (cluster != null) {
                cluster.close();
            }
        } finally {
            data.close();
        }
    }
}
