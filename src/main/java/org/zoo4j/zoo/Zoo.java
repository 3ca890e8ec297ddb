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

    /** A new, initialised network of the named model with its preset settings. */
    public static ComputationGraph create(String name) {
        return BUILT_IN.create(name, Map.of());
    }

    /** A new, initialised network of the named model, with settings overridden ("numClasses", "input", ...). */
    public static ComputationGraph create(String name, Map<String, ?> overrides) {
        return BUILT_IN.create(name, overrides);
    }
}
