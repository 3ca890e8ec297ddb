package org.zoo4j.transfer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.zoo4j.base.ConfigException;
import org.zoo4j.modelfile.ModelFile;
import org.zoo4j.modelfile.ModelFileException;
import org.zoo4j.zoo.ArchitectureConfig;
import org.zoo4j.zoo.ModelRegistry;
import org.zoo4j.zoo.WeightsManifest;

/**
 * A registered model built with one of its published weight sets: the set is fetched into the cache (checked), and
 * its tensors are loaded into the new network. With another number of classes than the weights were trained for, the
 * head is left freshly initialised for fine-tuning, as timm does. The zoo's own trained models ship inside it (format
 * zoo4j): {@link #load} gives one whole (labels, normaliser, card), {@link #resolve} finds its file by name.
 */
public final class PretrainedWeights {
    private PretrainedWeights() {
    }

    /**
     * A shipped zoo4j model by its weight set name ({@code zoo4j weights list}), with its labels, normaliser and card:
     * for inference and evaluation as trained; {@code finetune --from NAME} starts from it too.
     */
    public static ModelFile.Loaded load(String weights, WeightsCache cache) throws IOException {
        return ModelFile.load(resolve(weights, cache), false, ModelFile.Trust.CARD);
    }

    /**
     * The model file a command or recipe names: a model .zip or a run directory (its best model), else the name of a
     * weight set that ships with the zoo (copied into the cache and checked against the manifest's SHA-256).
     */
    public static Path resolve(String modelOrWeights, WeightsCache cache) throws IOException {
        Path path;
        try {
            path = Path.of(modelOrWeights);
        } catch (InvalidPathException e) {
            path = null;
        }
        if (path != null && Files.exists(path)) {
            return ModelFile.resolve(path);
        }
        WeightsManifest manifest = ModelRegistry.builtIn().weights();
        WeightsManifest.Entry set = manifest.weights().get(modelOrWeights);
        if (set != null && set.format() == WeightsManifest.Format.ZOO4J) {
            return cache.pull(modelOrWeights, set, false);
        }
        throw new ModelFileException(modelOrWeights + ": no such model file or run directory, nor a trained model that "
                + "ships with the zoo (" + String.join(", ", shipped(manifest)) + ")" + (set == null ? ""
                : "; " + modelOrWeights + " is a " + set.format() + " weight set: use it with "
                + "Zoo.create(model, settings, weights) or ./zoo4j weights"));
    }

    /** The names of the weight sets that ship with the zoo. */
    public static List<String> shipped(WeightsManifest manifest) {
        return manifest.weights().entrySet().stream().filter(e -> e.getValue().format() == WeightsManifest.Format.ZOO4J)
                .map(Map.Entry::getKey).toList();
    }

    /** {@code entry}'s network with {@code overrides}, its weights taken from its weight set {@code weights}. */
    public static ComputationGraph create(ModelRegistry.Entry<?> entry, Map<String, ?> overrides, String weights,
                                          WeightsCache cache) throws IOException {
        WeightsManifest.Entry set = entry.weightSet(weights);
        if (set.format() == WeightsManifest.Format.PTH) {
            throw new ConfigException("weights: " + weights + " is a PyTorch pickle, which zoo4j does not read (it can "
                    + "run code). Fetch it with ./zoo4j weights pull " + weights + ", convert it with "
                    + "src/main/python/pth_to_safetensors.py, then ./zoo4j weights import it; or choose a safetensors "
                    + "set of " + entry.name() + ": " + entry.weights().entrySet().stream()
                    .filter(e -> e.getValue().format() == WeightsManifest.Format.SAFETENSORS).map(Map.Entry::getKey)
                    .toList());
        }
        Path file = cache.pull(weights, set, false);
        ArchitectureConfig config = entry.config(overrides);
        ComputationGraph graph = entry.create(overrides);
        if (set.format() == WeightsManifest.Format.ZOO4J) {
            ModelFile.Loaded trained = ModelFile.load(file, false, ModelFile.Trust.pinned(set.sha256()));
            FineTuner.copyWeights(trained.net(), graph, weights);
            copyHeadIfSameShape(trained.net(), graph);
            return graph;
        }
        boolean newHead = config.numClasses() != entry.preset().numClasses();
        try (SafeTensors tensors = SafeTensors.open(file)) {
            WeightsImport.load(graph, tensors, newHead ? WeightsImport.Options.WITHOUT_HEAD : WeightsImport.Options.ALL);
        }
        return graph;
    }

    /** The trained head, where the new network's has the same parameters and shapes (the same classes' count). */
    private static void copyHeadIfSameShape(ComputationGraph trained, ComputationGraph target) {
        String head = FineTuner.head(target);
        Map<String, INDArray> from = trained.getLayer(head).paramTable();
        Map<String, INDArray> to = target.getLayer(head).paramTable();
        boolean same = from.keySet().equals(to.keySet())
                && to.entrySet().stream().allMatch(e -> Arrays.equals(e.getValue().shape(), from.get(e.getKey()).shape()));
        if (same) {
            to.forEach((key, value) -> value.assign(from.get(key)));
        }
    }
}
