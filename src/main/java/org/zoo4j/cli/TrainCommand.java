package org.zoo4j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.zoo4j.base.ConfigException;
import org.zoo4j.base.Provenance;
import org.zoo4j.dashboard.Catalog;
import org.zoo4j.dashboard.DashboardServer;
import org.zoo4j.recipe.TrainingRecipe;
import org.zoo4j.training.Trainer;
import org.zoo4j.training.TrainingLoop;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code zoo4j train [RECIPE] [options]}: trains a model into a run directory. */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = {"Train a model. Without arguments: LeNet-5 on Fashion-MNIST.",
                "Examples:", "  ./zoo4j train", "  ./zoo4j train training/resnet20-fashion-mnist.yaml --set epochs=5",
                "  ./zoo4j train --model resnet20 --dataset fashion-mnist --epochs 30",
                "  ./zoo4j train training/lenet5-fashion-mnist.yaml --spark 'local[2]'   (Spark build)",
                "  ./zoo4j train --resume runs/lenet5-fashion-mnist-20260101-120000",
                "  ./zoo4j train --ui --subset 6000 --epochs 3"},
        footer = {"Exit codes: 0 done, 2 bad input, 3 loss became NaN/infinite (last good checkpoint kept), "
                + "130 interrupted (checkpoint written). With --ui the dashboard stays up after training until "
                + "Ctrl-C."})
final class TrainCommand implements Callable<Integer> {
    @Parameters(index = "0", arity = "0..1", paramLabel = "RECIPE", description = "training recipe YAML (see training/)")
    Path recipeFile;

    @picocli.CommandLine.Mixin
    RecipeOptions options = new RecipeOptions();

    @Option(names = "--model", description = "model name (see ./zoo4j list; default lenet5), or a DL4J network "
            + "configuration file NAME.json with --set overrides.input=C,H,W")
    String model;

    @Option(names = "--dataset", description = "fashion-mnist, mnist, cifar10 or folder:/path")
    String dataset;

    @Option(names = {"--workers", "--gpus"}, paramLabel = "N", description = "replicas trained data-parallel with "
            + "DL4J's ParallelWrapper, each on its own batch: GPUs on the CUDA build, CPU replicas otherwise")
    Integer workers;

    @Option(names = "--spark", paramLabel = "MASTER", description = "train data-parallel on Spark with DL4J's "
            + "training masters: local[N], spark://HOST:PORT, yarn or k8s://... (recipe spark.master; the other spark.* "
            + "settings by --set); needs the Spark build: ZOO4J_MVN_ARGS=-Pspark ./zoo4j ...")
    String spark;

    @Option(names = "--out", description = "run directory (default runs/MODEL-DATASET-TIME)")
    Path out;

    @Option(names = "--resume", paramLabel = "RUN", description = "continue the run in this directory from its last checkpoint")
    Path resume;

    @Option(names = "--ui", description = "serve this run's live dashboard on 127.0.0.1 (as ./zoo4j ui; see --port, "
            + "--bind), recording per-step statistics every " + UI_STATS_EVERY + " iterations unless the recipe's "
            + "statsEvery says otherwise; it stays up after training until Ctrl-C")
    boolean ui;

    @picocli.CommandLine.Mixin
    DashboardOptions dashboard = new DashboardOptions();

    @Spec
    CommandSpec spec;

    /** The recipe's statsEvery that --ui sets where the recipe has none. */
    static final int UI_STATS_EVERY = 10;

    @Override
    public Integer call() throws Exception {
        Map<String, String> all = new LinkedHashMap<>();
        if (dataset != null) {
            all.put("data.dataset", dataset);
        }
        if (workers != null) {
            all.put("workers", workers.toString());
        }
        if (spark != null) {
            all.put("spark.master", spark);
        }
        all.putAll(options.settings());
        if (!ui && dashboard.given()) {
            throw new ConfigException("--port, --bind and --expose set up the dashboard: add --ui");
        }
        // The dashboard first: a port in use stops the command before any run directory is written.
        DashboardServer server = ui ? dashboard.start(Catalog.empty()) : null;
        Trainer trainer;
        try {
            trainer = start(all);
            trainer.recordStart(Provenance.of(Provenance.commandLine(spec.commandLine().getParseResult()
                    .originalArgs())));
        } catch (RuntimeException | IOException e) {
            if (server != null) {
                server.close();
            }
            throw e;
        }
        if (server == null) {
            return run(trainer);
        }
        String id = server.catalog().addRun(trainer.runDir());
        System.out.println("dashboard: " + server.runPage(id) + " (all runs: " + server.address() + ")");
        int code = run(trainer);
        System.out.println("training ended (exit code " + code + "); the dashboard stays up at " + server.runPage(id)
                + " until Ctrl-C");
        new CountDownLatch(1).await(); // until Ctrl-C ends the JVM
        return code;
    }

    private Trainer start(Map<String, String> all) throws IOException {
        if (resume != null) {
            if (recipeFile != null || model != null || out != null) {
                throw new ConfigException("--resume takes the run's own recipe and directory; give no RECIPE, "
                        + "--model or --out with it (use --set to change settings)");
            }
            if (ui && !all.containsKey("statsEvery") && Files.isRegularFile(resume.resolve(Trainer.RECIPE_FILE))
                    && TrainingRecipe.read(resume.resolve(Trainer.RECIPE_FILE)).statsEvery() == 0) {
                all.put("statsEvery", String.valueOf(UI_STATS_EVERY));
            }
            return Trainer.resume(resume, all, System.out);
        }
        TrainingRecipe recipe = recipeFile == null ? TrainingRecipe.defaults() : TrainingRecipe.read(recipeFile);
        if (model != null) {
            recipe = recipe.withModel(model, model.equals(recipe.model()) ? recipe.overrides() : Map.of());
        }
        recipe = recipe.with(all);
        if (ui && recipe.statsEvery() == 0) {
            recipe = recipe.with(Map.of("statsEvery", String.valueOf(UI_STATS_EVERY)));
        }
        return Trainer.start(recipe, out == null ? Trainer.defaultRunDir(recipe) : out, System.out);
    }

    /** Starts {@code recipe} in {@code runDir} and runs it to the end; returns the exit code. */
    static int train(TrainingRecipe recipe, Path runDir) throws IOException {
        return run(Trainer.start(recipe, runDir, System.out));
    }

    /** Runs {@code trainer}, writing a checkpoint on Ctrl-C; returns the exit code. */
    private static int run(Trainer trainer) throws IOException {
        // Ctrl-C: let the trainer finish its batch and write a checkpoint before the JVM exits.
        Thread hook = new Thread(() -> {
            trainer.requestStop();
            try {
                trainer.awaitFinished(120);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "zoo4j-checkpoint-on-exit");
        Runtime.getRuntime().addShutdownHook(hook);
        try (trainer) {
            TrainingLoop.Result result = trainer.run();
            return switch (result.status()) {
                case COMPLETED, EARLY_STOPPED -> 0;
                case DIVERGED -> {
                    System.err.println("zoo4j train: " + result.message());
                    System.err.println("zoo4j train: --resume takes --set to change settings first, e.g. --set "
                            + "overrides.updater.learningRate=0.0005 or --set clipGradientNorm=1");
                    yield 3;
                }
                case INTERRUPTED, PRUNED -> 130; // PRUNED: only a sweep sets an epoch listener
            };
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // already running: it is waiting for us
            }
        }
    }
}
