package org.zoo4j.zoo;

import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.graph.ComputationGraph;

/**
 * The built-in models: {@code Zoo.create("resnet50")}, {@code Zoo.create("resnet20", Map.of("numClasses", 100))}.
 */
public final class Zoo {
    private static final ModelRegistry BUILT_IN = new ModelRegistry()
            .registerFamily(LeNet5.FAMILY)
            .registerFamily(AlexNet.FAMILY)
            .registerFamily(Vgg.FAMILY)
            .registerFamily(ResNet.FAMILY);

    private Zoo() {
    }

    /** The registry of built-in models; register your own models there too. */
    public static ModelRegistry registry() {
        return BUILT_IN;
    }

    public static List<ModelRegistry.Entry<?>> list() {
        return BUILT_IN.list();
    }

    public static ModelRegistry.Entry<?> get(String name) {
        return BUILT_IN.get(name);
    }

    /**
     * A trained model: a zoo4j model file ({@code best.zip}, {@code last.zip}, a fine-tuned model) or a run directory
     * (its best model). Gives the network with its labels, normaliser, preprocessing and card. The card's SHA-256 is
     * verified, and files with entries that could trigger Java deserialisation are refused.
     *
     * @throws IllegalArgumentException when the file is not a zoo4j model file, fails its digest or holds unsafe entries
     */
    public static org.zoo4j.training.ModelFile.Loaded load(java.nio.file.Path path) throws java.io.IOException {
        return org.zoo4j.training.ModelFile.load(org.zoo4j.training.ModelFile.resolve(path), false);
    }

    /** A new, initialised network of the named model with its preset settings. */
    public static ComputationGraph create(String name) {
        return BUILT_IN.create(name, Map.of());
    }

    /** A new, initialised network of the named model, with settings overridden ("numClasses", "input", ...). */
    public static ComputationGraph create(String name, Map<String, ?> overrides) {
        return BUILT_IN.create(name, overrides);
    }
}
