package org.zoo4j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;

class FitRunsTest {
    @Test
    void aRunSplitInHalvesTrainsThePlansStepsAndCountsAsOneFigure() {
        BenchNetwork network = BenchNetwork.named("lenet5");
        ComputationGraph net = network.build();
        try {
            Measurements.FitRuns runs = new Measurements.FitRuns(net, network, 8, new Plan(0, 0, 2, 5));
            assertThrows(IllegalStateException.class, runs::secondHalf, "no run begun");
            runs.firstHalf();
            assertEquals(2, net.getIterationCount(), "the first half: 5 / 2 steps, rounded down");
            assertThrows(IllegalStateException.class, runs::firstHalf, "a run is begun already");
            runs.secondHalf();
            assertEquals(5, net.getIterationCount(), "the run's 5 steps in all");
            assertEquals(1, runs.result().imagesPerSecond().length, "both halves make one timed run");
            runs.timedRepeat();
            assertEquals(10, net.getIterationCount());
            Result result = runs.result();
            assertEquals(2, result.imagesPerSecond().length);
            assertTrue(result.min() > 0, "images/s of each run: " + result);
            assertThrows(IllegalStateException.class, runs::firstHalf, "the plan's 2 runs are done");
        } finally {
            net.close();
        }
    }
}
