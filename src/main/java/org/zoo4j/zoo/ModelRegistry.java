package org.zoo4j.zoo;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.zoo4j.base.ConfigException;
import org.zoo4j.base.Configs;
import org.zoo4j.base.InputShape;

/**
 * Models by name. A name is registered once: a second registration of the same name is an error, so a plugin can never
 * silently replace a model. {@link Zoo} holds the registry of built-in models.
 */
public final class ModelRegistry {
    /** Where model cards live on the classpath ({@code zoo/} in the repository). */
    public static final String CARD_RESOURCES = "zoo4j/zoo/";

    /**
     * A registered model.
     *
     * @param name   the registry name
     * @param family its family
     * @param preset the configuration the name stands for
     * @param card    its model card, or null for a model registered without one
     * @param weights the published weight sets that fit it, by name (see {@link WeightsManifest})
     */
    public record Entry<C extends ArchitectureConfig>(String name, ModelFamily<C> family, C preset, ArchitectureCard card,
                                                      Map<String, WeightsManifest.Entry> weights) {
        public Entry {
            weights = weights == null ? Map.of() : Collections.unmodifiableMap(new TreeMap<>(weights));
        }

        /** The weight set {@code name} of this model, or an error listing the model's sets. */
        public WeightsManifest.Entry weightSet(String setName) {
            WeightsManifest.Entry set = weights.get(setName);
            if (set == null) {
                throw new ConfigException("weights: " + name + " has no weight set '" + setName + "'; "
                        + (weights.isEmpty() ? "it has none" : "its sets are " + String.join(", ", weights.keySet())));
            }
            return set;
        }

        /** The preset with overrides applied (see {@link Configs#override}). */
        public C config(Map<String, ?> overrides) {
            return Configs.override(preset, overrides);
        }

        /** The laid-out network for the preset with overrides: shapes, parameters, MACs; nothing allocated. */
        public NetworkLayout define(Map<String, ?> overrides) {
            return Models.define(family, name, config(overrides));
        }

        /** A new, initialised network. */
        public ComputationGraph create(Map<String, ?> overrides) {
            return Models.create(family, name, config(overrides));
        }
    }

    private final Map<String, Entry<?>> entries = new LinkedHashMap<>();
    private final WeightsManifest weights;

    /** An empty registry whose models have no published weights. */
    public ModelRegistry() {
        this(new WeightsManifest(Map.of()));
    }

    /** An empty registry; each model registered takes its weight sets from {@code weights}. */
    public ModelRegistry(WeightsManifest weights) {
        this.weights = weights;
    }

    /** The registry of the built-in models (LeNet-5, AlexNet, VGG, ResNet); register your own models there too. */
    public static ModelRegistry builtIn() {
        return BuiltIn.REGISTRY;
    }

    /** Built on first use, so that a family's class can refer to the registry while it is being initialised. */
    private static final class BuiltIn {
        static final ModelRegistry REGISTRY = new ModelRegistry(WeightsManifest.load())
                .registerFamily(LeNet5.FAMILY)
                .registerFamily(AlexNet.FAMILY)
                .registerFamily(Vgg.FAMILY)
                .registerFamily(ResNet.FAMILY);
    }

    /** Registers every preset of {@code family}, each with its model card from the classpath (required). */
    public <C extends ArchitectureConfig> ModelRegistry registerFamily(ModelFamily<C> family) {
        family.presets().forEach((name, preset) -> register(name, family, preset, loadCard(name)));
        return this;
    }

    /** Registers one model; {@code card} may be null. */
    public synchronized <C extends ArchitectureConfig> Entry<C> register(String name, ModelFamily<C> family, C preset, ArchitectureCard card) {
        if (name == null || !name.matches("[a-z0-9][a-z0-9._-]*")) {
            throw new IllegalArgumentException("model names are lower-case letters, digits, '.', '_' and '-', got '"
                    + name + "'");
        }
        if (entries.containsKey(name)) {
            throw new IllegalArgumentException("a model named '" + name + "' is already registered (family "
                    + entries.get(name).family().name() + ")");
        }
        Entry<C> entry = new Entry<>(name, family, preset, card, weights.forModel(name));
        entries.put(name, entry);
        return entry;
    }

    public synchronized List<Entry<?>> list() {
        return Collections.unmodifiableList(new ArrayList<>(entries.values()));
    }

    /** The published weight sets this registry's models take them from. */
    public WeightsManifest weights() {
        return weights;
    }

    public synchronized List<String> names() {
        return List.copyOf(entries.keySet());
    }

    /** The entry for {@code name}; an unknown name is an error that lists the known ones. */
    public synchronized Entry<?> get(String name) {
        Entry<?> e = entries.get(name);
        if (e == null) {
            throw new ConfigException("unknown model '" + name + "'; known models: " + String.join(", ", entries.keySet())
                    + " (./zoo4j list shows them)");
        }
        return e;
    }

    public ComputationGraph create(String name, Map<String, ?> overrides) {
        return get(name).create(overrides);
    }

    static ArchitectureCard loadCard(String name) {
        String resource = CARD_RESOURCES + name + ".yaml";
        try (InputStream in = ModelRegistry.class.getClassLoader().getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException("no model card " + resource + " on the classpath (zoo/" + name + ".yaml)");
            }
            ArchitectureCard card = Configs.fromYaml(new String(in.readAllBytes(), StandardCharsets.UTF_8), ArchitectureCard.class);
            if (!name.equals(card.name())) {
                throw new IllegalStateException("model card zoo/" + name + ".yaml names '" + card.name() + "'");
            }
            return card;
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + resource, e);
        }
    }

    /** Building networks from a family and a config, shared by the registry and the families' builders. */
    public static final class Models {
        private Models() {
        }

        /**
         * Lays out the network; an input too small for it becomes an error on the "input" setting that says the smallest
         * square input the network accepts.
         */
        public static <C extends ArchitectureConfig> NetworkLayout define(ModelFamily<C> family, String model, C config) {
            try {
                return family.define(model, config);
            } catch (ShapeException e) {
                int min = smallestSquareInput(family, model, config);
                throw new ConfigException("input: " + config.input() + " is too small for " + model
                        + (min > 0 ? "; the smallest input it accepts is " + config.input().channels() + "," + min + "," + min : "")
                        + ": " + e.getMessage(), e);
            }
        }

        /** The DL4J configuration. */
        public static <C extends ArchitectureConfig> ComputationGraphConfiguration configure(ModelFamily<C> family, String model, C config) {
            return define(family, model, config).build();
        }

        /** A new network with initialised weights. */
        public static <C extends ArchitectureConfig> ComputationGraph create(ModelFamily<C> family, String model, C config) {
            ComputationGraph graph = new ComputationGraph(configure(family, model, config));
            graph.init();
            family.initialize(config, graph);
            return graph;
        }

        /** The smallest square input (same channels) the network accepts, or -1 if none up to 4096. */
        public static <C extends ArchitectureConfig> int smallestSquareInput(ModelFamily<C> family, String model, C config) {
            int lo = 1;
            int hi = 4096;
            if (!fits(family, model, config, hi)) {
                return -1;
            }
            while (lo < hi) {
                int mid = (lo + hi) >>> 1;
                if (fits(family, model, config, mid)) {
                    hi = mid;
                } else {
                    lo = mid + 1;
                }
            }
            return lo;
        }

        private static <C extends ArchitectureConfig> boolean fits(ModelFamily<C> family, String model, C config, int size) {
            try {
                InputShape probe = config.input().withSize(size, size);
                family.define(model, Configs.override(config, Map.of("input", probe.toString())));
                return true;
            } catch (ShapeException e) {
                return false;
            }
        }
    }
}
