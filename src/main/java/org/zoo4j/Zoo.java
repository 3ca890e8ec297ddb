package org.zoo4j;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.zoo4j.modelfile.ModelFile;
import org.zoo4j.transfer.PretrainedWeights;
import org.zoo4j.transfer.WeightsCache;
import org.zoo4j.zoo.ModelRegistry;

/**
 * zoo4j's front door: the built-in models by name, with their published weights, and trained models from their files.
 * {@code Zoo.create("resnet50")}, {@code Zoo.create("resnet20", Map.of("numClasses", 100))},
 * {@code Zoo.create("resnet18", Map.of("numClasses", 10), "resnet18.timm-tv-in1k")},
 * {@code Zoo.load(Path.of("runs/lenet5/best.zip"))}. The registry itself is {@link ModelRegistry#builtIn()}.
 */
public final class Zoo {
    private Zoo() {
    }

    /** The registry of built-in models; register your own models there too. */
    public static ModelRegistry registry() {
        return ModelRegistry.builtIn();
    }

    public static List<ModelRegistry.Entry<?>> list() {
        return registry().list();
    }

    public static ModelRegistry.Entry<?> get(String name) {
        return registry().get(name);
    }

    /** A new, initialised network of the named model with its preset settings. */
    public static ComputationGraph create(String name) {
        return registry().create(name, Map.of());
    }

    /** A new, initialised network of the named model, with settings overridden ("numClasses", "input", ...). */
    public static ComputationGraph create(String name, Map<String, ?> overrides) {
        return registry().create(name, overrides);
    }

    /**
     * A new network of the named model with settings overridden, its weights taken from one of its published weight
     * sets ({@code Zoo.get(name).weights()} lists them): downloaded into the cache ({@code ~/.zoo4j/weights}, or
     * {@code $ZOO4J_WEIGHTS}) once, checked against the manifest's digest, and loaded. With another {@code numClasses}
     * than the weights', the head stays freshly initialised, for fine-tuning.
     */
    public static ComputationGraph create(String name, Map<String, ?> overrides, String weights) throws IOException {
        return PretrainedWeights.create(get(name), overrides, weights,
                new WeightsCache(WeightsCache.defaultRoot(), System.err));
    }

    /**
     * A trained model that ships with the zoo, by its weight set's name ({@code zoo4j weights list}, format zoo4j), e.g.
     * {@code Zoo.pretrained("lenet5.zoo4j-fashion-mnist")}: with its labels, normaliser and card, for prediction,
     * evaluation or {@code finetune --from}. Copied out of the jar into the weights cache once, checked against the
     * manifest's SHA-256.
     */
    public static ModelFile.Loaded pretrained(String weights) throws IOException {
        return PretrainedWeights.load(weights, new WeightsCache(WeightsCache.defaultRoot(), System.err));
    }

    /**
     * A trained model: a zoo4j model file ({@code best.zip}, {@code last.zip}, a fine-tuned model) or a run directory
     * (its best model). Gives the network with its labels, normaliser, preprocessing and card. The card's SHA-256 is
     * verified (a file without a card is refused), and files with entries that could trigger Java deserialisation are
     * refused.
     */
    public static ModelFile.Loaded load(Path path) throws IOException {
        return load(path, ModelFile.Trust.CARD);
    }

    /** As {@link #load(Path)}, with a pinned SHA-256 of the file, or trusting a file without a card. */
    public static ModelFile.Loaded load(Path path, ModelFile.Trust trust) throws IOException {
        return ModelFile.load(ModelFile.resolve(path), false, trust);
    }
}
