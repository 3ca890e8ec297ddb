package org.zoo4j.bench;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.zoo4j.base.ConfigException;
import org.zoo4j.zoo.ArchitectureConfig;
import org.zoo4j.zoo.ModelRegistry;

/**
 * A network as benchmarked: a zoo model with the settings that make it the same network as the PyTorch peer's
 * ({@code training/benchmarks/torch_peer.py}: Adam at 1e-3, 1-channel 28x28 or zero-padded 32x32 Fashion-MNIST).
 *
 * @param name       the name in results, e.g. resnet20
 * @param model      the zoo model
 * @param overrides  settings of the model's preset config
 * @param trainBatch batch sizes for training
 * @param inferBatch batch size for inference
 * @param realData   whether Fashion-MNIST images feed it (else random images of its input shape)
 */
public record BenchNetwork(String name, String model, Map<String, Object> overrides, List<Integer> trainBatch,
                           int inferBatch, boolean realData) {
    private static final Map<String, Object> ADAM = Map.of("name", "adam", "learningRate", 0.001);

    /** The benchmarked networks. */
    public static final List<BenchNetwork> ALL = List.of(
            new BenchNetwork("lenet5", "lenet5", Map.of("input", "1,28,28", "updater", ADAM), List.of(64, 128), 256,
                    true),
            new BenchNetwork("alexnet-small", "alexnet-small", Map.of("input", "1,32,32", "updater", ADAM),
                    List.of(64), 256, true),
            new BenchNetwork("vgg16-bn", "vgg16-bn", Map.of("input", "1,32,32", "classifier", List.of(), "convBias",
                    false, "updater", ADAM), List.of(64), 256, true),
            new BenchNetwork("resnet20", "resnet20", Map.of("input", "1,32,32", "shortcut", "B", "updater", ADAM),
                    List.of(128), 256, true),
            new BenchNetwork("resnet18-224", "resnet18", Map.of("input", "3,224,224", "updater", ADAM), List.of(8), 8,
                    false));

    /**
     * Measured only when named (too slow for the default run on a CPU): ResNet-50 at 224, random images, at the
     * batch sizes of a GPU run (training/benchmarks/gpu-check.sh).
     */
    public static final List<BenchNetwork> EXTRA = List.of(
            new BenchNetwork("resnet50-224", "resnet50", Map.of("input", "3,224,224", "updater", ADAM), List.of(64),
                    64, false));

    public static BenchNetwork named(String name) {
        return Stream.concat(ALL.stream(), EXTRA.stream()).filter(n -> n.name().equals(name))
                .findFirst().orElseThrow(() -> new ConfigException("unknown benchmark network '" + name + "'; one of "
                        + Stream.concat(ALL.stream(), EXTRA.stream()).map(BenchNetwork::name)
                        .toList()));
    }

    /** The model's settings with 10 classes, as the benchmark builds it. */
    public Map<String, Object> settings() {
        Map<String, Object> all = new LinkedHashMap<>(overrides);
        all.putIfAbsent("numClasses", 10);
        return all;
    }

    public ArchitectureConfig config() {
        return ModelRegistry.builtIn().get(model).config(settings());
    }

    /** A new network with initialised weights. */
    ComputationGraph build() {
        return ModelRegistry.builtIn().create(model, settings());
    }
}
