package org.zoo4j.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.file.Path;
import java.util.Map;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.zoo4j.base.InputShape;
import org.zoo4j.recipe.FinetuneSettings;
import org.zoo4j.transfer.FineTuneFixtures;

/** The loop's schedule scales each layer's own rate, on fine-tuned graphs with frozen layers too. */
class LearningRateScheduleTest {
    @TempDir
    Path dir;

    @Test
    void aScheduleStepKeepsTheHeadsRatioToTheBaseRate() throws Exception {
        Path from = FineTuneFixtures.trained(dir, "lenet5", "1,28,28", 4);
        ComputationGraph net = FineTuneFixtures.finetune("lenet5", "1,28,28", 3,
                new FinetuneSettings(from.toString(), null, false, 0.004));
        TrainableNetwork network = TrainableNetwork.of(net);
        Map<String, Double> base = network.learningRates();
        assertEquals(0.004, base.get("fc3"), 1e-12, "the head starts at its own rate");
        network.scaleLearningRates(base, 0.5);
        assertEquals(0.002, net.getLearningRate("fc3"), 1e-12);
        assertEquals(0.0005, net.getLearningRate("conv1"), 1e-12);
    }

    @Test
    void scheduledRatesReachTheUpdaterOfAGraphWithFrozenLayers() throws Exception {
        Path from = FineTuneFixtures.trained(dir, "lenet5", "1,28,28", 10);
        ComputationGraph net = FineTuneFixtures.finetune("lenet5", "1,28,28", 3,
                new FinetuneSettings(from.toString(), "conv2", false, 0.01));
        TrainableNetwork network = TrainableNetwork.of(net);
        Map<String, Double> base = network.learningRates();
        net.fit(FineTuneFixtures.batch(InputShape.of(1, 28, 28), 3, 1)); // the updater state exists from here on
        network.scaleLearningRates(base, 0);
        Map<String, INDArray> before = FineTuneFixtures.params(net);
        net.fit(FineTuneFixtures.batch(InputShape.of(1, 28, 28), 3, 2));
        before.forEach((key, value) -> assertEquals(value, net.getParam(key), key + ": rate 0 everywhere"));
        network.scaleLearningRates(base, 1);
        net.fit(FineTuneFixtures.batch(InputShape.of(1, 28, 28), 3, 3));
        assertFalse(before.get("fc1_W").equals(net.getParam("fc1_W")), "the rate is back");
        assertFalse(before.get("fc3_W").equals(net.getParam("fc3_W")));
        assertEquals(before.get("conv2_W"), net.getParam("conv2_W"), "frozen");
    }
}
