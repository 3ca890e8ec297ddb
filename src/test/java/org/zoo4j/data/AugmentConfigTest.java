package org.zoo4j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.zoo4j.base.Configs;

class AugmentConfigTest {
    @Test
    void parsesTheCommandLineForm() {
        AugmentConfig a = AugmentConfig.parse("rotate=15,translate=0.1,scale=0.9:1.1,flip=0.5,crop=4@0.25");
        assertEquals(15, a.rotate());
        assertEquals(1, a.rotateProbability());
        assertEquals(0.1, a.translate());
        assertEquals(0.9, a.scaleMin());
        assertEquals(1.1, a.scaleMax());
        assertEquals(0.5, a.flip());
        assertEquals(4, a.crop());
        assertEquals(0.25, a.cropProbability());
        assertEquals(a, AugmentConfig.parse(a.toSpec()));
        assertTrue(AugmentConfig.parse("none").isNone());
        assertTrue(AugmentConfig.parse("").isNone());
        assertEquals(0.5, AugmentConfig.parse("rotate=10@0.5").rotateProbability());
    }

    @Test
    void badStringsSayWhatIsWrong() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> AugmentConfig.parse("spin=3")).getMessage()
                .contains("unknown step 'spin'"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> AugmentConfig.parse("rotate=abc")).getMessage()
                .contains("rotate needs a number"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> AugmentConfig.parse("flip=2")).getMessage()
                .contains("augment.flip"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> AugmentConfig.parse("crop=2.5")).getMessage()
                .contains("whole pixels"));
        assertThrows(IllegalArgumentException.class, () -> AugmentConfig.parse("rotate"));
    }

    @Test
    void dataConfigRoundTripsThroughJsonAndYamlWithEitherAugmentForm() throws Exception {
        DataConfig c = DataConfig.of("cifar10").withAugment(AugmentConfig.parse("flip=0.5,crop=4@0.8"))
                .withSubset(500).withBatchSize(128).withNormalization(NormalizationMode.SCALE);
        assertEquals(c, Configs.json().readValue(Configs.json().writeValueAsString(c), DataConfig.class));
        assertEquals(c, Configs.yaml().readValue(Configs.yaml().writeValueAsString(c), DataConfig.class));
        DataConfig fromString = Configs.yaml().readValue(
                "dataset: cifar10\nbatchSize: 128\nsubset: 500\nnormalization: scale\naugment: \"flip=0.5,crop=4@0.8\"\n",
                DataConfig.class);
        assertEquals(c, fromString);
        DataConfig defaults = Configs.yaml().readValue("dataset: mnist\n", DataConfig.class);
        assertEquals(DataConfig.of("mnist"), defaults);
        assertEquals(0.1, defaults.validationFraction());
        assertEquals(NormalizationMode.STANDARDIZE, defaults.normalization());
        assertTrue(defaults.augment().isNone());
        assertThrows(Exception.class, () -> Configs.yaml().readValue("dataset: mnist\nbatchsize: 3\n", DataConfig.class),
                "a misspelt setting is an error");
        assertThrows(Exception.class, () -> Configs.yaml().readValue("dataset: mnist\nvalidationFraction: 1.5\n",
                DataConfig.class));
    }
}
