package org.zoo4j.zoo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.zoo4j.runtime.Backend;

/**
 * Building a model does not start zoo4j's native set-up ({@link Backend#init}): that happens once, at the entry points.
 * A library user who never calls it gets the same network, computing the same outputs, on DL4J's defaults.
 */
class NativeStartUpTest {
    /** Run in a fresh JVM by the test: builds LeNet-5 and prints the helpers property and one image's outputs. */
    public static void main(String[] args) {
        ComputationGraph net = ModelRegistry.builtIn().create("lenet5", Map.of());
        System.out.println("helpers property: " + System.getProperty(Backend.HELPERS_DISABLE));
        System.out.println("outputs: " + Arrays.toString(outputs(net)));
    }

    static float[] outputs(ComputationGraph net) {
        INDArray image = Nd4j.arange(28 * 28).castTo(DataType.FLOAT).divi(28 * 28).reshape(1, 1, 28, 28);
        return net.outputSingle(false, image).toFloatVector();
    }

    @Test
    void aModelBuiltWithoutTheNativeStartUpIsTheSameNetwork() throws Exception {
        Process child = new ProcessBuilder(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx1g", "-cp", System.getProperty("java.class.path"), NativeStartUpTest.class.getName()))
                .redirectErrorStream(true).start();
        String out = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(child.waitFor(120, TimeUnit.SECONDS), out);
        assertEquals(0, child.exitValue(), out);
        assertTrue(out.contains("helpers property: null"), "building a model set nothing process-wide: " + out);
        String printed = out.substring(out.indexOf("outputs: [") + "outputs: [".length(), out.lastIndexOf(']'));
        float[] child10 = new float[10];
        String[] parts = printed.split(",\\s*");
        for (int i = 0; i < 10; i++) {
            child10[i] = Float.parseFloat(parts[i]);
        }
        Backend.init();
        assertArrayEquals(outputs(ModelRegistry.builtIn().create("lenet5", Map.of())), child10, 1e-5f,
                "the same weights and outputs with and without zoo4j's native set-up");
    }
}
