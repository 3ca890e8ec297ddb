package org.zoo4j.zoo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.zoo4j.Zoo;

/** Bad settings fail at build time with a message that names the setting and the limit. */
class ValidationTest {

    private static String error(String model, Map<String, ?> overrides) {
        return assertThrows(IllegalArgumentException.class, () -> Zoo.get(model).define(overrides)).getMessage();
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "lenet5        | numClasses | 0                 | numClasses: must be at least 1, got 0",
            "resnet20      | depth      | 21                | depth: a CIFAR ResNet has depth 6n+2 with n >= 1 (20, 32, 44, 56, 110, ...), got 21",
            "resnet50      | depth      | 42                | depth: an IMAGENET ResNet has depth 18, 34, 50, 101 or 152, got 42",
            "resnet18      | widths     | 64,128,256        | widths: a IMAGENET ResNet needs 4 positive stage widths, got [64, 128, 256]",
            "resnet50      | shortcut   | A                 | shortcut: option A (zero padding) is defined for basic blocks only; depth 50 uses bottlenecks",
            "resnet20      | widths     | 16,24,64          | widths: shortcut A (zero padding) needs each stage to double the width of the one before, got [16, 24, 64]; use shortcut B",
            "vgg16         | layers     | 64,X,M            | layers: 'X' is neither a filter count nor M (in 64,X,M)",
            "vgg16         | dropout    | 1.5               | dropout: must be in [0, 1), got 1.5",
            "vgg16         | classifierInitStd | -0.01      | classifierInitStd: must be >= 0 (0: the weightInit setting), got -0.01",
            "alexnet       | widths     | 64,192            | widths: needs five positive filter counts, got [64, 192]",
            "alexnet       | widthMultiplier | 0            | widthMultiplier: must be > 0, got 0.0",
            "lenet5        | conv1Padding | -1              | conv1Padding: must be >= 0, got -1",
            "lenet5        | updater.learningRate | 0       | updater.learningRate: must be > 0, got 0.0",
            "lenet5        | updater.name | adamw           | updater.name: one of sgd, momentum, nesterov, adam, nadam, amsgrad, adamax, rmsprop, adagrad, adadelta, none; got 'adamw'",
            "lenet5        | input      | 1,0,28            | input: channels, height and width must all be at least 1, got 1,0,28",
            "lenet5        | input      | 1,28              | input: expected channels,height,width such as 3,224,224, got '1,28'",
    })
    void badSettingIsNamedWithItsLimit(String model, String key, String value, String message) {
        assertEquals(message, error(model, Map.of(key, value)));
    }

    @Test
    void inputTooSmallSaysTheSmallestThatFits() {
        assertEquals("input: 3,32,32 is too small for alexnet; the smallest input it accepts is 3,63,63: "
                + "features.12 (max pool 3x3) would receive 1 pixels, fewer than its kernel", error("alexnet", Map.of("input", "3,32,32")));
        String vgg = error("vgg16", Map.of("input", "3,16,16"));
        assertTrue(vgg.startsWith("input: 3,16,16 is too small for vgg16; the smallest input it accepts is 3,32,32: "), vgg);
        // (16 - 5)/1 + 1 = 12, pooled to 6, (6 - 5)/1 + 1 = 2, pooled to 1; 15 leaves conv2 a 1x1 map that pool2 cannot take.
        String lenet = error("lenet5", Map.of("input", "1,12,40", "conv1Padding", 0));
        assertTrue(lenet.startsWith("input: 1,12,40 is too small for lenet5; the smallest input it accepts is 1,16,16: "), lenet);
    }

    @Test
    void nonSquareInputsWork() {
        NetworkLayout net = Zoo.get("resnet18").define(Map.of("input", "3,64,96", "numClasses", 5));
        assertEquals("5", net.shape("fc").toString());
        assertEquals("512x2x3", net.shape("layer4.1.relu").toString());
    }

    @Test
    void unknownSettingsAndModelsListWhatExists() {
        assertEquals("unknown setting 'depthh' ('depthh' is not one of [input, numClasses, seed, updater, weightInit, "
                + "style, depth, widths, shortcut, zeroInitLastBn])", error("resnet20", Map.of("depthh", 20)));
        String unknown = assertThrows(IllegalArgumentException.class, () -> Zoo.get("resnet21")).getMessage();
        assertTrue(unknown.startsWith("unknown model 'resnet21'; known models: lenet5, alexnet,"), unknown);
    }

    @Test
    void settingsLeftOutOfAPresetCanBeSet() {
        // lenet5's preset updater is Adam without a momentum: the setting is absent from the config's JSON tree.
        ArchitectureConfig adam = Zoo.get("lenet5").config(Map.of());
        assertEquals(null, adam.updater().momentum());
        ArchitectureConfig nesterov = Zoo.get("lenet5").config(Map.of("updater.name", "nesterov", "updater.momentum", "0.95"));
        assertEquals(0.95, nesterov.updater().momentum());
        assertEquals("unknown setting 'updater.momentun' ('momentun' is not one of [name, learningRate, momentum])",
                error("lenet5", Map.of("updater.momentun", 0.9)));
    }

    @Test
    void duplicateNamesAreRefused() {
        ModelRegistry registry = new ModelRegistry().registerFamily(LeNet5.FAMILY);
        String message = assertThrows(IllegalArgumentException.class,
                () -> registry.register("lenet5", LeNet5.FAMILY, LeNet5.FAMILY.presets().get("lenet5"), null)).getMessage();
        assertEquals("a model named 'lenet5' is already registered (family lenet)", message);
    }

    @Test
    void builderValidatesInBuildAndZeroInitsLastBatchNorm() {
        assertEquals("numClasses: must be at least 1, got 0",
                assertThrows(IllegalArgumentException.class, () -> ResNet.builder("resnet20").numClasses(0).config()).getMessage());
        var graph = ResNet.builder("resnet20").input(1, 32, 32).set("zeroInitLastBn", true).build();
        assertEquals(0.0, graph.getParam("layer3.2.bn2_gamma").amaxNumber().doubleValue());
        assertEquals(1.0, graph.getParam("layer3.2.bn1_gamma").minNumber().doubleValue());
    }

    @Test
    void cifarOptionBAddsProjections() {
        NetworkLayout a = Zoo.get("resnet20").define(Map.of());
        NetworkLayout b = Zoo.get("resnet20").define(Map.of("shortcut", "B"));
        // Two projections (1x1 conv + BN) at the stage transitions: 16*32 + 2*32 and 32*64 + 2*64.
        assertEquals(a.trainableParams() + 16 * 32 + 64 + 32 * 64 + 128, b.trainableParams());
    }
}
