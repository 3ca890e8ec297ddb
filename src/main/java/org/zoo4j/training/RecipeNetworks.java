package org.zoo4j.training;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.GradientNormalization;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.learning.regularization.WeightDecay;
import org.zoo4j.recipe.TrainingRecipe;
import org.zoo4j.transfer.FineTuner;
import org.zoo4j.zoo.ArchitectureConfig;
import org.zoo4j.zoo.Dl4jNetworkFile;
import org.zoo4j.zoo.ModelRegistry;

/**
 * The network a recipe trains: its registered model (or DL4J network file) with the recipe's settings, the recipe's
 * weight decay and gradient clipping set on every layer, initialised, and started from a trained model when the
 * recipe fine-tunes one.
 */
public final class RecipeNetworks {
    private RecipeNetworks() {
    }

    /** The initialised network for {@code recipe} with {@code numClasses} outputs (unless its overrides say). */
    public static ComputationGraph build(TrainingRecipe recipe, int numClasses) {
        Map<String, Object> overrides = recipe.modelOverrides(numClasses);
        ComputationGraph graph;
        if (Dl4jNetworkFile.isNetworkFile(recipe.model())) {
            Path file = Path.of(recipe.model());
            // This also checks the file's output layer against the data's classes.
            ArchitectureConfig described = Dl4jNetworkFile.describe(file, overrides);
            ComputationGraphConfiguration conf = Dl4jNetworkFile.read(file);
            regularize(conf, recipe);
            graph = Dl4jNetworkFile.create(conf, described.input(), file);
        } else {
            graph = create(ModelRegistry.builtIn().get(recipe.model()), overrides, recipe);
        }
        return recipe.finetune() == null ? graph : FineTuner.apply(recipe.finetune(), graph);
    }

    private static <C extends ArchitectureConfig> ComputationGraph create(ModelRegistry.Entry<C> entry,
                                                                          Map<String, Object> overrides,
                                                                          TrainingRecipe recipe) {
        C config = entry.config(overrides);
        ComputationGraphConfiguration conf = ModelRegistry.Models.configure(entry.family(), entry.name(), config);
        regularize(conf, recipe);
        ComputationGraph graph = new ComputationGraph(conf);
        graph.init();
        entry.family().initialize(config, graph);
        return graph;
    }

    /** Sets the recipe's weight decay and gradient clipping on every layer with weights. */
    private static void regularize(ComputationGraphConfiguration conf, TrainingRecipe recipe) {
        for (GraphVertex vertex : conf.getVertices().values()) {
            if (vertex instanceof LayerVertex lv && lv.getLayerConf().getLayer() instanceof BaseLayer layer) {
                if (recipe.weightDecay() > 0) {
                    // Scaled by the learning rate, like the decoupled-from-loss decay of torch.optim.SGD.
                    // A mutable list: Spark's Kryo rebuilds a configuration by adding to a list of the same class.
                    layer.setRegularization(new ArrayList<>(List.of(new WeightDecay(recipe.weightDecay(), true))));
                }
                if (recipe.clipGradientNorm() > 0) {
                    layer.setGradientNormalization(GradientNormalization.ClipL2PerLayer);
                    layer.setGradientNormalizationThreshold(recipe.clipGradientNorm());
                }
            }
        }
    }
}
