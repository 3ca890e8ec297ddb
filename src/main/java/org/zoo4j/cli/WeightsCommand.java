package org.zoo4j.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.zoo4j.Zoo;
import org.zoo4j.base.ConfigException;
import org.zoo4j.base.InputShape;
import org.zoo4j.base.Table;
import org.zoo4j.data.DataConfig;
import org.zoo4j.data.Normalization;
import org.zoo4j.data.NormalizationMode;
import org.zoo4j.modelfile.ModelFile;
import org.zoo4j.recipe.TrainingRecipe;
import org.zoo4j.transfer.SafeTensors;
import org.zoo4j.transfer.WeightsCache;
import org.zoo4j.transfer.WeightsImport;
import org.zoo4j.zoo.ArchitectureConfig;
import org.zoo4j.zoo.WeightsManifest;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code zoo4j weights ...}: published weight sets: list, download, import into a zoo model. */
@Command(name = "weights", mixinStandardHelpOptions = true,
        description = "Published weights: list the known sets, download one, import a safetensors state dict.",
        subcommands = {WeightsCommand.ListWeights.class, WeightsCommand.Pull.class, WeightsCommand.Import.class})
public final class WeightsCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** The shipped manifest, or one the user names (own mirrors, pinned digests). */
    static final class ManifestOption {
        @Option(names = "--manifest", paramLabel = "FILE", description = "a weights manifest instead of zoo/weights.yaml")
        Path file;

        WeightsManifest load() throws IOException {
            if (file == null) {
                return WeightsManifest.load();
            }
            if (!Files.isRegularFile(file)) {
                throw new ConfigException("no such manifest: " + file);
            }
            return WeightsManifest.read(file);
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "The weight sets in zoo/weights.yaml.")
    static final class ListWeights implements Callable<Integer> {
        @picocli.CommandLine.Mixin
        ManifestOption manifestOption = new ManifestOption();

        @Override
        public Integer call() throws Exception {
            WeightsManifest manifest = manifestOption.load();
            Table table = new Table("weights", "model", "format", "top-1", "check").right(3);
            manifest.weights().forEach((name, e) -> table.row(name, e.model(), e.format(),
                    manifest.accuracyOf(name) == null ? ""
                            : String.format(Locale.ROOT, "%.2f", manifest.accuracyOf(name).top1()),
                    e.verifiable() ? (e.sha256() != null ? "sha256" : "sha256 prefix") : "UNVERIFIED"));
            table.print(System.out);
            System.out.println(".pth files are pickles: convert with src/main/python/pth_to_safetensors.py before "
                    + "'zoo4j weights import'.");
            return 0;
        }
    }

    @Command(name = "pull", mixinStandardHelpOptions = true,
            description = "Download a weight set into the cache (~/.zoo4j/weights, or $ZOO4J_WEIGHTS) and check it.")
    static final class Pull implements Callable<Integer> {
        @Parameters(paramLabel = "NAME", description = "a name from 'zoo4j weights list'")
        String name;

        @Option(names = "--allow-unverified", description = "fetch a set the manifest has no checksum for")
        boolean allowUnverified;

        @picocli.CommandLine.Mixin
        ManifestOption manifestOption = new ManifestOption();

        @Override
        public Integer call() throws Exception {
            WeightsManifest.Entry entry = manifestOption.load().get(name);
            Path file = new WeightsCache(WeightsCache.defaultRoot(), System.err).pull(name, entry, allowUnverified);
            System.out.println(file);
            if (entry.format() == WeightsManifest.Format.PTH) {
                System.err.println("This is a PyTorch pickle; zoo4j does not unpickle. Convert it, then import:\n"
                        + "  /usr/bin/python3 src/main/python/pth_to_safetensors.py " + file + " " + name + ".safetensors\n"
                        + "  zoo4j weights import " + name + ".safetensors --model " + entry.model() + " --out "
                        + entry.model() + ".zip");
            }
            return 0;
        }
    }

    @Command(name = "import", mixinStandardHelpOptions = true,
            description = "Load a torchvision/timm state dict (safetensors) into a zoo model and write a DL4J model zip.")
    static final class Import implements Callable<Integer> {
        @Parameters(paramLabel = "FILE", description = "a .safetensors state dict")
        Path file;

        @Option(names = "--model", required = true, description = "zoo model, e.g. resnet18, vgg16-bn, alexnet")
        String model;

        @Option(names = "--classes", paramLabel = "N", description = "number of classes (with --skip-head, for fine-tuning)")
        Integer classes;

        @Option(names = "--input", paramLabel = "C,H,W", description = "input shape instead of the model's default")
        String input;

        @Option(names = "--set", paramLabel = "KEY=VALUE", description = "any other setting of the model")
        Map<String, String> settings = new LinkedHashMap<>();

        @Option(names = "--skip-head", description = "keep the output layer freshly initialised and ignore the file's")
        boolean skipHead;

        @Option(names = "--out", required = true, description = "the model file to write: a DL4J model zip with "
                + "zoo4j's card, ready for ./zoo4j finetune --from, eval and predict")
        Path out;

        @Option(names = "--mean", split = ",", defaultValue = "0.485,0.456,0.406", description = "per-channel mean of "
                + "0-1 pixels that the weights expect (default ImageNet's, as torchvision: ${DEFAULT-VALUE})")
        double[] mean;

        @Option(names = "--std", split = ",", defaultValue = "0.229,0.224,0.225",
                description = "per-channel std of 0-1 pixels (default ImageNet's: ${DEFAULT-VALUE})")
        double[] std;

        @Option(names = "--dataset", defaultValue = "imagenet",
                description = "what the weights were trained on, for the card (default: ${DEFAULT-VALUE})")
        String dataset;

        @Override
        public Integer call() throws Exception {
            String lower = file.getFileName().toString().toLowerCase(Locale.ROOT);
            if (lower.endsWith(".pth") || lower.endsWith(".pt") || lower.endsWith(".bin") || lower.endsWith(".ckpt")) {
                throw new ConfigException(file + " looks like a PyTorch pickle; zoo4j does not unpickle "
                        + "(it can run code). Convert it: /usr/bin/python3 src/main/python/pth_to_safetensors.py " + file
                        + " OUT.safetensors");
            }
            if (!Files.isRegularFile(file)) {
                throw new ConfigException("no such file: " + file);
            }
            Map<String, Object> overrides = new LinkedHashMap<>(settings);
            if (classes != null) {
                overrides.put("numClasses", classes);
            }
            if (input != null) {
                overrides.put("input", input);
            }
            ComputationGraph graph = Zoo.create(model, overrides);
            WeightsImport.Result result;
            try (SafeTensors weights = SafeTensors.open(file)) {
                result = WeightsImport.load(graph, weights, new WeightsImport.Options(skipHead));
            }
            ArchitectureConfig config = Zoo.get(model).config(overrides);
            InputShape shape = config.input();
            Normalization normalization = normalization(shape.channels());
            List<String> labels = new ArrayList<>();
            for (int i = 0; i < config.numClasses(); i++) {
                labels.add("class " + i);
            }
            TrainingRecipe recipe = TrainingRecipe.defaults().withModel(model, overrides)
                    .withData(DataConfig.of(dataset).withNormalization(NormalizationMode.STANDARDIZE));
            ModelFile.write(out, graph, recipe, labels, normalization, shape);
            PrintStream err = System.err;
            err.printf(Locale.ROOT, "imported %d tensors (%,d values) into %s%s%n", result.tensors(), result.values(),
                    model, result.keptLayers().isEmpty() ? "" : "; kept freshly initialised: " + result.keptLayers());
            System.out.println(out);
            return 0;
        }

        /** The published preprocessing as zoo4j's normaliser, which works on 0-255 pixel values. */
        private Normalization normalization(int channels) {
            if (mean.length != channels || std.length != channels) {
                throw new ConfigException("--mean and --std: " + channels + " values each for this model's "
                        + channels + "-channel input; got " + mean.length + " and " + std.length);
            }
            double[] m = new double[channels];
            double[] sd = new double[channels];
            for (int c = 0; c < channels; c++) {
                m[c] = 255 * mean[c];
                sd[c] = 255 * std[c];
            }
            return Normalization.standardize(m, sd);
        }
    }
}
