package org.zoo4j.visual;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.datavec.image.loader.NativeImageLoader;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.zoo4j.base.ConfigException;
import org.zoo4j.base.InputShape;
import org.zoo4j.data.DataException;
import org.zoo4j.data.Normalization;
import org.zoo4j.modelfile.ModelFile;
import org.zoo4j.transfer.PretrainedWeights;
import org.zoo4j.transfer.WeightsCache;
import org.zoo4j.zoo.ArchitectureConfig;
import org.zoo4j.zoo.ModelRegistry;

/**
 * A network to look inside, with what turns an image file into its input.
 *
 * @param net           the network
 * @param input         the shape images are resized and converted to
 * @param normalization what is applied to pixel values 0-255 before the network sees them
 * @param randomWeights true for a registered model built fresh (its filters are the initialiser's noise)
 * @param source        where it came from, for messages: a file, or a model name
 */
public record VisualModel(ComputationGraph net, InputShape input, Normalization normalization, boolean randomWeights,
                          String source) {

    /**
     * A trained model (a model zip or a run directory, as {@code zoo4j eval} takes them) or, when {@code model} names no
     * file, a registered model with fresh random weights.
     */
    public static VisualModel load(String model) throws IOException {
        return load(model, ModelFile.Trust.CARD);
    }

    /** As {@link #load(String)}, a model file verified as {@code trust} says. */
    public static VisualModel load(String model, ModelFile.Trust trust) throws IOException {
        Path path = Path.of(model);
        if (Files.exists(path)) {
            Path file = ModelFile.resolve(path);
            ModelFile.Loaded loaded = ModelFile.load(file, false, trust);
            return new VisualModel(loaded.net(), loaded.preprocessing().input(), loaded.normalization(), false,
                    file.toString());
        }
        if (PretrainedWeights.shipped(ModelRegistry.builtIn().weights()).contains(model)) {
            Path file = PretrainedWeights.resolve(model, new WeightsCache(WeightsCache.defaultRoot(), null));
            ModelFile.Loaded loaded = ModelFile.load(file, false, trust);
            return new VisualModel(loaded.net(), loaded.preprocessing().input(), loaded.normalization(), false, model);
        }
        if (!ModelRegistry.builtIn().names().contains(model)) {
            throw new ConfigException(model + ": neither a model file, a run directory, a trained model that ships with "
                    + "the zoo (zoo4j weights list) nor a registered model name (see zoo4j list)");
        }
        return fresh(model, Map.of());
    }

    /** A registered model with fresh random weights and settings overridden ("input", "numClasses", ...). */
    public static VisualModel fresh(String name, Map<String, ?> overrides) {
        ArchitectureConfig config = (ArchitectureConfig) ModelRegistry.builtIn().get(name).config(overrides);
        return new VisualModel(ModelRegistry.builtIn().create(name, overrides), config.input(), Normalization.scale(), true,
                name + " (fresh random weights, not trained)");
    }

    /** A network in memory (a notebook's), fed images normalised by {@code normalization}. */
    public static VisualModel of(ComputationGraph net, InputShape input, Normalization normalization) {
        return new VisualModel(net, input, normalization, false, "a network in memory");
    }

    /** The names of the network's vertices in the order they run: the names {@code zoo4j describe} lists. */
    public List<String> layerNames() {
        return net.getConfiguration().getTopologicalOrderStr();
    }

    /** Checks that {@code layer} names a vertex; an unknown name is an error listing the valid ones. */
    public String requireLayer(String layer) {
        if (layer == null || net.getVertex(layer) == null) {
            throw new ConfigException("--layer: no layer named '" + layer + "' in " + source
                    + "; its layers are " + String.join(", ", layerNames()));
        }
        return layer;
    }

    /**
     * An image file as the network's input [1, C, H, W]: decoded, resized and converted to the model's channels by
     * DataVec (as {@code zoo4j predict} does), then normalised.
     */
    public INDArray readImage(Path image) throws IOException {
        if (!Files.isRegularFile(image)) {
            throw new DataException(image + ": no such file (an image file: PNG, JPEG or BMP)");
        }
        NativeImageLoader loader = new NativeImageLoader(input.height(), input.width(), input.channels());
        return normalization.apply(loader.asMatrix(image.toFile()).castTo(DataType.FLOAT));
    }
}
