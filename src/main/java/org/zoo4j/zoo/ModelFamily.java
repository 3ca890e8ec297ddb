package org.zoo4j.zoo;

import java.util.Map;
import org.deeplearning4j.nn.graph.ComputationGraph;

/**
 * One family of architectures (LeNet, AlexNet, VGG, ResNet): its config record, how a config becomes a network, and its
 * presets.
 *
 * @param <C> the family's config record
 */
public interface ModelFamily<C extends ArchitectureConfig> {
    /** The family's name, e.g. "resnet". */
    String name();

    /** Named configurations, e.g. "resnet50"; the registry registers each one. */
    Map<String, C> presets();

    /**
     * Validates the config and lays out the network. Errors are {@link IllegalArgumentException}s that name the setting;
     * a layer that does not fit the input raises {@link ShapeException}.
     *
     * @param model the model's name, for messages
     */
    NetworkLayout define(String model, C config);

    /** Adjusts freshly initialised weights where the architecture asks for it. The default does nothing. */
    default void initialize(C config, ComputationGraph graph) {
    }
}
