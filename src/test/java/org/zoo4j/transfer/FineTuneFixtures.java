package org.zoo4j.transfer;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.zoo4j.Zoo;
import org.zoo4j.base.InputShape;
import org.zoo4j.data.DataConfig;
import org.zoo4j.data.Normalization;
import org.zoo4j.modelfile.ModelFile;
import org.zoo4j.recipe.FinetuneSettings;
import org.zoo4j.recipe.TrainingRecipe;
import org.zoo4j.runtime.Backend;

/** Model files and fine-tuned networks for tests, built in the test without training. */
public final class FineTuneFixtures {
    private FineTuneFixtures() {
    }

    /** A "trained" model file in {@code dir}: a fresh network of {@code model} at {@code input}, 10 classes, seeded. */
    public static Path trained(Path dir, String model, String input, long seed) throws Exception {
        Backend.init();
        TrainingRecipe recipe = TrainingRecipe.defaults().withModel(model,
                Map.of("input", input, "seed", seed, "numClasses", 10)).withData(DataConfig.of("fashion-mnist"));
        ComputationGraph net = Zoo.create(model, recipe.overrides());
        Path file = dir.resolve(model + "-" + input.replace(',', 'x') + ".zip");
        List<String> labels = IntStream.range(0, 10).mapToObj(i -> "c" + i).toList();
        ModelFile.write(file, net, recipe, labels, Normalization.scale(), InputShape.parse(input));
        return file;
    }

    /** The fine-tuned network for {@code classes} classes at {@code input}, started from {@code settings.from()}. */
    public static ComputationGraph finetune(String model, String input, int classes, FinetuneSettings settings) {
        ComputationGraph fresh = Zoo.create(model, Map.of("input", input, "numClasses", classes, "seed", 7L));
        return FineTuner.apply(settings, fresh);
    }

    /** A copy of every parameter, by DL4J's key ({@code conv1_W}). */
    public static Map<String, INDArray> params(ComputationGraph net) {
        Map<String, INDArray> copy = new HashMap<>();
        net.paramTable().forEach((k, v) -> copy.put(k, v.dup()));
        return copy;
    }

    /** Eight random images of shape {@code s} with labels cycling over {@code classes}, seeded. */
    public static DataSet batch(InputShape s, int classes, long seed) {
        Nd4j.getRandom().setSeed(seed);
        INDArray x = Nd4j.rand(DataType.FLOAT, 8, s.channels(), s.height(), s.width());
        INDArray y = Nd4j.zeros(DataType.FLOAT, 8, classes);
        for (int i = 0; i < 8; i++) {
            y.putScalar(i, i % classes, 1);
        }
        return new DataSet(x, y);
    }
}
