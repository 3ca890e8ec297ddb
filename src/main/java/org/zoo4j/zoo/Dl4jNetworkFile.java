package org.zoo4j.zoo;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.layers.BaseOutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.AMSGrad;
import org.nd4j.linalg.learning.config.AdaDelta;
import org.nd4j.linalg.learning.config.AdaGrad;
import org.nd4j.linalg.learning.config.AdaMax;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.config.Nadam;
import org.nd4j.linalg.learning.config.Nesterovs;
import org.nd4j.linalg.learning.config.NoOp;
import org.nd4j.linalg.learning.config.RmsProp;
import org.nd4j.linalg.learning.config.Sgd;
import org.zoo4j.base.ConfigException;
import org.zoo4j.base.Configs;
import org.zoo4j.base.InputShape;
import org.zoo4j.zoo.UpdaterSpec;

/**
 * A network given as a DL4J configuration file instead of a registered model: {@code model: network.json} in a
 * recipe. The file holds a {@link ComputationGraphConfiguration} or a {@link MultiLayerConfiguration} as DL4J's
 * {@code toJson()} writes it; a multi-layer network is trained as the equivalent graph. DL4J's JSON does not record the
 * input shape, so the recipe gives it: {@code overrides: {input: "1,28,28"}}, and nothing else. The network keeps its
 * own updater; the recipe's schedule scales the first layer's learning rate and sets it on every layer, and the
 * recipe's weight decay and gradient clipping apply as they do to zoo models.
 */
public final class Dl4jNetworkFile {
    /** The file name a run directory keeps its network configuration under. */
    public static final String RUN_FILE = "network.json";

    private Dl4jNetworkFile() {
    }

    /**
     * What the trainer and the model card need to know of such a network, read from the configuration. Its
     * {@code weightInit} is null: each layer of the file has its own.
     */
    public record Config(InputShape input, int numClasses, long seed, UpdaterSpec updater, WeightInit weightInit)
            implements ArchitectureConfig {
    }

    /** True when a recipe's {@code model} names a network file rather than a registered model. */
    public static boolean isNetworkFile(String model) {
        return model.endsWith(".json");
    }

    /** The network's configuration as a graph; errors name the file and say what it should hold. */
    public static ComputationGraphConfiguration read(Path file) {
        String json;
        try {
            json = Files.readString(file);
        } catch (IOException e) {
            throw new ConfigException("model: cannot read the network file " + file + " (" + e + "); give a "
                    + "registered model name (./zoo4j list) or a DL4J configuration written by toJson()", e);
        }
        try {
            JsonNode tree = Configs.json().readTree(json);
            if (tree.has("confs")) {
                MultiLayerNetwork layers = new MultiLayerNetwork(MultiLayerConfiguration.fromJson(json));
                layers.init();
                return layers.toComputationGraph().getConfiguration().clone();
            }
            if (tree.has("vertices")) {
                return ComputationGraphConfiguration.fromJson(json);
            }
        } catch (IOException | RuntimeException e) {
            throw new ConfigException("model: " + file + " is not a DL4J network configuration: " + e.getMessage()
                    + "; write one with MultiLayerConfiguration.toJson() or ComputationGraphConfiguration.toJson()", e);
        }
        throw new ConfigException("model: " + file + " holds JSON but no DL4J network configuration (neither "
                + "'confs' nor 'vertices'); write one with MultiLayerConfiguration.toJson() or "
                + "ComputationGraphConfiguration.toJson()");
    }

    /**
     * The summary of the network in {@code file} under the recipe's overrides; only {@code input} (required) and
     * {@code numClasses} (which must match the output layer) may be set.
     */
    public static Config describe(Path file, Map<String, Object> overrides) {
        for (String key : overrides.keySet()) {
            if (!key.equals("input") && !key.equals("numClasses")) {
                throw new ConfigException("overrides: '" + key + "' cannot be set on a network file; its "
                        + "configuration fixes everything but the input shape (overrides: {input: C,H,W}); change "
                        + file + " instead");
            }
        }
        Object input = overrides.get("input");
        if (input == null) {
            throw new ConfigException("overrides.input: required with a network file (" + file + "): DL4J's "
                    + "JSON does not record the input shape; set it as C,H,W, e.g. --set overrides.input=1,28,28");
        }
        ComputationGraphConfiguration conf = read(file);
        BaseLayer first = firstLayer(conf);
        int classes = outputs(conf);
        if (overrides.get("numClasses") instanceof Number n && n.intValue() != classes) {
            throw new ConfigException("numClasses: the data has " + n + " classes but the output layer of "
                    + file + " has " + classes + " outputs; change its nOut or the data's classes");
        }
        return new Config(InputShape.parse(input.toString()), classes, conf.getDefaultConfiguration().getSeed(),
                updater(first.getIUpdater()), null);
    }

    /** A new graph for the configuration, checked against the input shape with one forward pass. */
    public static ComputationGraph create(ComputationGraphConfiguration conf, InputShape input, Path file) {
        ComputationGraph graph = new ComputationGraph(conf);
        graph.init();
        try {
            graph.output(false, Nd4j.zeros(1, input.channels(), input.height(), input.width()));
        } catch (RuntimeException e) {
            throw new ConfigException("overrides.input: the network in " + file + " does not take "
                    + input + " images: " + e.getMessage(), e);
        }
        return graph;
    }

    private static BaseLayer firstLayer(ComputationGraphConfiguration conf) {
        for (GraphVertex v : conf.getVertices().values()) {
            if (v instanceof LayerVertex lv && lv.getLayerConf().getLayer() instanceof BaseLayer layer
                    && layer.getIUpdater() != null) {
                return layer;
            }
        }
        throw new ConfigException("model: the network has no trainable layer with an updater");
    }

    private static int outputs(ComputationGraphConfiguration conf) {
        if (conf.getNetworkOutputs().size() != 1
                || !(conf.getVertices().get(conf.getNetworkOutputs().get(0)) instanceof LayerVertex lv)
                || !(lv.getLayerConf().getLayer() instanceof BaseOutputLayer out)) {
            throw new ConfigException("model: the network needs exactly one output layer (a classifier), "
                    + "found outputs " + conf.getNetworkOutputs());
        }
        return Math.toIntExact(out.getNOut());
    }

    /** The network's updater in zoo4j's terms; its learning rate is what the recipe's schedule scales. */
    private static UpdaterSpec updater(IUpdater u) {
        double lr = u.hasLearningRate() ? u.getLearningRate(0, 0) : 0;
        if (u instanceof Nesterovs n) {
            return new UpdaterSpec(UpdaterSpec.Optimizer.NESTEROV, lr, n.getMomentum());
        }
        // By exact class: a subclass could change what the learning rate means.
        Map<Class<?>, UpdaterSpec.Optimizer> names = Map.of(Sgd.class, UpdaterSpec.Optimizer.SGD, Adam.class,
                UpdaterSpec.Optimizer.ADAM, Nadam.class, UpdaterSpec.Optimizer.NADAM, AMSGrad.class,
                UpdaterSpec.Optimizer.AMSGRAD, AdaMax.class, UpdaterSpec.Optimizer.ADAMAX, RmsProp.class,
                UpdaterSpec.Optimizer.RMSPROP, AdaGrad.class, UpdaterSpec.Optimizer.ADAGRAD, AdaDelta.class,
                UpdaterSpec.Optimizer.ADADELTA, NoOp.class, UpdaterSpec.Optimizer.NONE);
        UpdaterSpec.Optimizer name = names.get(u.getClass());
        if (name == null) {
            throw new ConfigException("model: the network's updater " + u.getClass().getSimpleName()
                    + " is not one zoo4j can schedule; use one of Sgd, Nesterovs, Adam, Nadam, AMSGrad, AdaMax, "
                    + "RmsProp, AdaGrad, AdaDelta, NoOp");
        }
        return new UpdaterSpec(name, lr, null);
    }
}
