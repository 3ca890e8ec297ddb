package org.zoo4j.zoo;

import java.util.LinkedHashMap;
import java.util.Map;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.weights.WeightInit;
import org.zoo4j.base.Checks;
import org.zoo4j.base.Configs;
import org.zoo4j.base.InputShape;

/**
 * Starts from a preset and changes settings; {@link #build()} validates everything and returns the network.
 * {@code ResNet.builder("resnet50").input(3, 160, 160).numClasses(10).set("zeroInitLastBn", true).build()}.
 * The settings are those of the family's config record; the common ones have their own methods.
 */
public final class ModelBuilder<C extends ArchitectureConfig> {
    private final ModelFamily<C> family;
    private final String name;
    private final C preset;
    private final Map<String, Object> changes = new LinkedHashMap<>();

    ModelBuilder(ModelFamily<C> family, String name) {
        this.family = family;
        this.name = name;
        this.preset = family.presets().get(name);
        Checks.require(preset != null, "preset", "unknown " + family.name() + " preset '" + name + "'; known: "
                + family.presets().keySet());
    }

    public ModelBuilder<C> input(int channels, int height, int width) {
        return set("input", new InputShape(channels, height, width).toString());
    }

    public ModelBuilder<C> numClasses(int numClasses) {
        return set("numClasses", numClasses);
    }

    public ModelBuilder<C> seed(long seed) {
        return set("seed", seed);
    }

    public ModelBuilder<C> updater(UpdaterSpec updater) {
        return set("updater", Configs.json().valueToTree(updater));
    }

    public ModelBuilder<C> weightInit(WeightInit weightInit) {
        return set("weightInit", weightInit.name());
    }

    /** Any setting of the family's config record, by name (dotted for nested ones). */
    public ModelBuilder<C> set(String setting, Object value) {
        changes.put(setting, value);
        return this;
    }

    /** The validated configuration. */
    public C config() {
        C config = Configs.override(preset, changes);
        ModelRegistry.Models.define(family, name, config);
        return config;
    }

    /** A new network with initialised weights. */
    public ComputationGraph build() {
        return ModelRegistry.Models.create(family, name, Configs.override(preset, changes));
    }
}
