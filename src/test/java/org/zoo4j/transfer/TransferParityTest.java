package org.zoo4j.transfer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.zoo4j.Zoo;
import org.zoo4j.runtime.Backend;

/**
 * Numerical parity with PyTorch: torchvision models with seeded random weights and batch-norm statistics, reduced so
 * the fixtures stay small (written by src/test/python/make_transfer_fixtures.py), imported into the zoo's graphs of the
 * same shape, must give the same logits and softmax on the same input in inference mode.
 */
class TransferParityTest {
    /** Float32 on both sides, summed in different orders: the errors seen are ~1e-6; 1e-4 leaves room, not slack. */
    static final double TOLERANCE = 1e-4;

    @BeforeAll
    static void backend() {
        Backend.init();
    }

    static Stream<Arguments> fixtures() {
        Map<String, String> resnet = Map.of("widths", "[4,8,16,32]", "input", "3,64,64", "numClasses", "10");
        Map<String, String> vgg = Map.of("layers", "8,M,16,M,32,32,M,32,32,M", "classifier", "[32,32]",
                "input", "3,112,112", "numClasses", "10");
        return Stream.of(
                Arguments.of("resnet18-tiny", "resnet18", resnet),
                Arguments.of("resnet50-tiny", "resnet50", resnet),
                Arguments.of("vgg11-bn-tiny", "vgg11-bn", vgg),
                Arguments.of("vgg11-tiny", "vgg11", vgg),
                Arguments.of("alexnet-tiny", "alexnet", Map.of("widths", "[8,16,16,16,16]", "classifier", "[32,32]",
                        "numClasses", "10")));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("fixtures")
    void importedGraphMatchesTorch(String fixture, String model, Map<String, String> overrides) throws Exception {
        ComputationGraph graph = Zoo.create(model, overrides);
        try (SafeTensors weights = SafeTensors.open(resource(fixture + ".safetensors"))) {
            WeightsImport.load(graph, weights, WeightsImport.Options.ALL);
        }
        Parity p = compare(graph, resource(fixture + ".io.safetensors"), resource(fixture + ".out.safetensors"));
        System.out.println(fixture + ": " + p);
        p.assertWithin(TOLERANCE);
    }

    /**
     * Errors of the graph's outputs against torch's. Softmax: max elementwise relative error (|b| floored at 1e-3 of
     * the largest probability, so that a probability of 1e-9 off by 1e-12 does not count). Logits: max absolute error
     * relative to the largest |logit|; elementwise it would be ill-posed, since among 1000 random logits some are ~0.
     */
    record Parity(double logitsAbs, double logitsRel, double softmaxAbs, double softmaxRel) {
        void assertWithin(double tolerance) {
            assertTrue(logitsRel <= tolerance && softmaxRel <= tolerance, "beyond " + tolerance + ": " + this);
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT,
                    "logits max abs %.2e, rel to max |logit| %.2e; softmax max abs %.2e, max rel %.2e",
                    logitsAbs, logitsRel, softmaxAbs, softmaxRel);
        }
    }

    static Parity compare(ComputationGraph graph, Path io, Path out) throws IOException {
        INDArray input;
        float[] logitsRef;
        float[] softmaxRef;
        long[] outShape;
        try (SafeTensors in = SafeTensors.open(io); SafeTensors ref = SafeTensors.open(out)) {
            input = Nd4j.create(in.floats("input"), in.info("input").shape(), 'c').castTo(DataType.FLOAT);
            logitsRef = ref.floats("logits");
            softmaxRef = ref.floats("softmax");
            outShape = ref.info("softmax").shape();
        }
        String head = graph.getConfiguration().getNetworkOutputs().get(0);
        Map<String, INDArray> acts = graph.feedForward(new INDArray[] {input}, false);
        INDArray softmax = acts.get(head);
        assertArrayEquals(outShape, softmax.shape(), "output shape");
        // The output layer applies softmax itself; its logits are its input times W plus b.
        String headInput = graph.getConfiguration().getVertexInputs().get(head).get(0);
        INDArray logits = acts.get(headInput).mmul(graph.getParam(head + "_W")).addRowVector(graph.getParam(head + "_b"));
        double[] l = errors(logits.dup('c').data().asFloat(), logitsRef);
        double[] s = errors(softmax.dup('c').data().asFloat(), softmaxRef);
        return new Parity(l[0], l[0] / l[2], s[0], s[1]);
    }

    /** Max absolute error, max relative error |a - b| / max(|b|, 1e-3 max|b|), and max|b|. */
    static double[] errors(float[] got, float[] want) {
        assertTrue(got.length == want.length, "lengths " + got.length + " vs " + want.length);
        double scale = 0;
        for (float w : want) {
            scale = Math.max(scale, Math.abs(w));
        }
        double abs = 0;
        double rel = 0;
        for (int i = 0; i < got.length; i++) {
            double d = Math.abs(got[i] - want[i]);
            abs = Math.max(abs, d);
            rel = Math.max(rel, d / Math.max(Math.abs(want[i]), 1e-3 * scale));
        }
        return new double[] {abs, rel, scale};
    }

    static Path resource(String name) {
        try {
            var url = TransferParityTest.class.getClassLoader().getResource("transfer/" + name);
            if (url == null) {
                throw new IllegalStateException("test resource transfer/" + name + " is missing; run "
                        + "/usr/bin/python3 src/test/python/make_transfer_fixtures.py");
            }
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

}
