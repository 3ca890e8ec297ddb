package org.zoo4j.transfer;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.zoo4j.base.ConfigException;
import org.zoo4j.zoo.ArchitectureConfig;
import org.zoo4j.zoo.ModelRegistry;
import org.zoo4j.zoo.WeightsManifest;

/**
 * A registered model built with one of its published weight sets: the set is fetched into the cache (checked), and
 * its tensors are loaded into the new network. With another number of classes than the weights were trained for, the
 * head is left freshly initialised for fine-tuning, as timm does.
 */
public final class PretrainedWeights {
    private PretrainedWeights() {
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
        boolean newHead = config.numClasses() != entry.preset().numClasses();
        try (SafeTensors tensors = SafeTensors.open(file)) {
            WeightsImport.load(graph, tensors, newHead ? WeightsImport.Options.WITHOUT_HEAD : WeightsImport.Options.ALL);
        }
        return graph;
    }
}
