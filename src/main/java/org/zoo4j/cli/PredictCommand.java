package org.zoo4j.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.zoo4j.base.ConfigException;
import org.zoo4j.base.InputShape;
import org.zoo4j.data.DataException;
import org.zoo4j.data.ImageFiles;
import org.zoo4j.modelfile.ModelFile;
import org.zoo4j.runtime.InferenceCopy;
import org.zoo4j.transfer.PretrainedWeights;
import org.zoo4j.transfer.WeightsCache;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code zoo4j predict MODEL IMAGE...}: the top-k labels of each image. */
@Command(name = "predict", mixinStandardHelpOptions = true,
        description = "Classify images with a trained model; resizing and normalisation come from the model file.")
final class PredictCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MODEL", description = "model file, run directory, or the name of a trained "
            + "model that ships with the zoo (zoo4j weights list)")
    String model;

    @Mixin
    TrustOptions trustOptions = new TrustOptions();

    @Parameters(index = "1..*", arity = "1..*", paramLabel = "IMAGE", description = "PNG, JPEG or BMP images")
    List<Path> images;

    @Option(names = "--top", defaultValue = "5", description = "labels to show per image (default: ${DEFAULT-VALUE})")
    int top;

    @Override
    public Integer call() throws Exception {
        if (top < 1) {
            throw new ConfigException("--top: must be at least 1, got " + top);
        }
        for (Path image : images) {
            if (!Files.isRegularFile(image)) {
                throw new DataException(image + ": no such file (an image file)");
            }
        }
        ModelFile.Loaded loaded = ModelFile.load(PretrainedWeights.resolve(model,
                new WeightsCache(WeightsCache.defaultRoot(), System.err)), false, trustOptions.trust());
        InputShape shape = loaded.preprocessing().input();
        List<String> unreadable = new ArrayList<>();
        ComputationGraph net = InferenceCopy.forInference(loaded.net());
        try {
            for (Path image : images) {
                INDArray features;
                try {
                    // Read as training reads image folders: same decoder, resizing and (RGB) channel order.
                    features = loaded.normalization().apply(ImageFiles.read(image, shape));
                } catch (DataException e) {
                    System.err.println("zoo4j predict: " + e.getMessage());
                    unreadable.add(image.toString());
                    continue; // the other images still get their predictions
                }
                float[] p = net.outputSingle(false, features).toFloatVector();
                Integer[] order = new Integer[p.length];
                Arrays.setAll(order, i -> i);
                Arrays.sort(order, Comparator.comparingDouble(i -> -p[i]));
                System.out.println(image + ":");
                for (int k = 0; k < Math.min(top, p.length); k++) {
                    System.out.printf(Locale.ROOT, "  %6.2f%%  %s%n", 100 * p[order[k]],
                            loaded.labels().get(order[k]));
                }
            }
        } finally {
            if (net != loaded.net()) {
                net.close();
            }
        }
        if (!unreadable.isEmpty()) {
            throw new DataException(unreadable.size() + " of " + images.size() + " images could not be read: "
                    + String.join(", ", unreadable));
        }
        return 0;
    }
}
