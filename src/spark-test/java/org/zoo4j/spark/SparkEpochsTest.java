package org.zoo4j.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** What the driver tells a gradient-sharing run about its threshold, without a cluster. */
@Tag("spark")
class SparkEpochsTest {
    @Test
    void aThresholdAboveEveryLearningRateIsWarnedAboutWithTheValueToSet() {
        Optional<String> warning = SparkEpochs.thresholdWarning(Map.of("conv1", 1e-4, "fc", 5e-5), 1e-3);
        assertTrue(warning.isPresent());
        assertTrue(warning.get().contains("--set spark.threshold=1e-05"), warning.get());
        assertTrue(warning.get().contains("at most 0.000100"), warning.get());
    }

    @Test
    void aThresholdBelowSomeLayersRateOrWithoutRatesIsNot() {
        assertEquals(Optional.empty(), SparkEpochs.thresholdWarning(Map.of("conv1", 1e-4, "fc", 2e-3), 1e-3));
        assertEquals(Optional.empty(), SparkEpochs.thresholdWarning(Map.of(), 1e-3));
    }
}
