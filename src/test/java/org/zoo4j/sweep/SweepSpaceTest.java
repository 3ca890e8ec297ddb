package org.zoo4j.sweep;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.deeplearning4j.arbiter.optimize.api.ParameterSpace;
import org.deeplearning4j.arbiter.optimize.distribution.LogUniformDistribution;
import org.deeplearning4j.arbiter.optimize.parameter.continuous.ContinuousParameterSpace;
import org.deeplearning4j.arbiter.optimize.parameter.discrete.DiscreteParameterSpace;
import org.junit.jupiter.api.Test;
import org.zoo4j.recipe.Monitor;
import org.zoo4j.recipe.TrainingRecipe;

/** Sweep files, search spaces and their errors, and the samplers; no training. */
class SweepSpaceTest {
    static final String GOOD = """
            name: t
            recipe: training/lenet5-fashion-mnist.yaml
            set: {data.subset: 600, epochs: 2}
            space:
              overrides.updater.learningRate: {logUniform: [1.0e-4, 0.1]}
              weightDecay: {uniform: [0, 0.001]}
              data.batchSize: {choice: [32, 64]}
              epochs: {int: [1, 3]}
              schedule.type: {fixed: cosine}
            budget: {maxTrials: 4}
            strategy: {type: random, seed: 3}
            pruner: {type: asha}
            """;

    static SweepSpec parse(String yaml) throws Exception {
        return SweepFile.parse(yaml, "t", Path.of("."), null);
    }

    @Test
    void aSweepFileReadsIntoRecipeSettingsWithinTheirRanges() throws Exception {
        SweepSpec spec = parse(GOOD);
        assertEquals(List.of("overrides.updater.learningRate", "weightDecay", "data.batchSize", "epochs",
                "schedule.type"), spec.space().keys());
        assertEquals(4, spec.space().numParameters(), "fixed values take no coordinate");
        assertEquals(600, spec.base().data().subset());
        assertEquals(Monitor.ACCURACY, spec.base().monitor());
        Sampler random = Sampler.of(spec.strategy(), spec.space());
        Set<String> batchSizes = new HashSet<>();
        for (int n = 0; n < 40; n++) {
            Map<String, String> s = spec.space().settings(random.next(n, List.of()));
            double lr = Double.parseDouble(s.get("overrides.updater.learningRate"));
            assertTrue(lr >= 1e-4 && lr <= 0.1, s.toString());
            double wd = Double.parseDouble(s.get("weightDecay"));
            assertTrue(wd >= 0 && wd <= 0.001, s.toString());
            int epochs = Integer.parseInt(s.get("epochs"));
            assertTrue(epochs >= 1 && epochs <= 3, s.toString());
            assertEquals("cosine", s.get("schedule.type"));
            batchSizes.add(s.get("data.batchSize"));
            TrainingRecipe r = spec.base().with(s);
            assertEquals(lr, r.modelConfig().updater().learningRate(), 1e-9 * lr);
        }
        assertEquals(Set.of("32", "64"), batchSizes);
        // Trial n's candidate depends on the seed and n only: every worker process agrees on it.
        assertEquals(spec.space().settings(random.next(5, List.of())), spec.space().settings(random.next(5, List.of())));

        // Log-uniform: about as many draws below the geometric midpoint 1e-2.5 as above it.
        int below = 0;
        for (int n = 0; n < 400; n++) {
            below += Double.parseDouble(spec.space().settings(random.next(n, List.of()))
                    .get("overrides.updater.learningRate")) < Math.pow(10, -2.5) ? 1 : 0;
        }
        assertTrue(below > 150 && below < 250, "log-uniform, got " + below + " of 400 below the midpoint");
    }

    @Test
    void everySweepFileInTrainingReads() throws Exception {
        List<Path> files;
        try (var list = Files.list(Path.of("training/sweeps"))) {
            files = list.filter(f -> f.toString().endsWith(".yaml")).sorted().toList();
        }
        assertTrue(files.size() >= 4, files.toString());
        for (Path f : files) {
            SweepSpec spec = SweepSpec.read(f);
            assertEquals(f.getFileName().toString().replace(".yaml", ""), spec.name(), "name = file name: " + f);
        }
    }

    @Test
    void gridAndGeneticComeFromArbiter() throws Exception {
        SweepSpec spec = parse(GOOD.replace("{type: random, seed: 3}", "{type: grid, gridPoints: 2}"));
        Sampler grid = Sampler.of(spec.strategy(), spec.space());
        Set<Map<String, String>> seen = new HashSet<>();
        int n = 0;
        for (double[] p; (p = grid.next(n, List.of())) != null; n++) {
            seen.add(spec.space().settings(p));
        }
        assertEquals(2 * 2 * 2 * 2, n, "2 values for each of the four searched fields");
        assertEquals(n, seen.size(), "no grid point twice");

        Sampler genetic = Sampler.genetic(spec.space(), 1, 4);
        List<Sampler.Observation> history = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            double[] p = genetic.next(i, history);
            assertEquals(4, p.length);
            history.add(new Sampler.Observation(p, p[0]));
        }
    }

    @Test
    void badInputFailsBeforeAnyTrialWithTheFieldNamed() {
        Map<String, String> cases = new LinkedHashMap<>();
        cases.put(GOOD.replace("[1.0e-4, 0.1]", "[0.1, 1.0e-4]"), "inverted range");
        cases.put(GOOD.replace("[0, 0.001]", "[0.001, 0.001]"), "empty range");
        cases.put(GOOD.replace("[1.0e-4, 0.1]", "[0, 0.1]"), "log-uniform range needs bounds > 0");
        cases.put(GOOD.replace("weightDecay:", "weightDecy:"), "space.weightDecy");
        cases.put(GOOD.replace("overrides.updater.learningRate:", "overrides.updater.lr:"), "space.overrides.updater.lr");
        cases.put(GOOD.replace("{maxTrials: 4}", "{maxTrials: 0}"), "budget of zero");
        cases.put(GOOD.replace("{maxTrials: 4}", "{maxTrials: 0, maxMinutes: 0}"), "budget of zero");
        cases.put(GOOD.replace("[32, 64]", "[]"), "at least one value");
        cases.put(GOOD.replace("type: random", "type: bayes"), "strategy.type");
        cases.put(GOOD.replace("{type: asha}", "{type: asha, reductionFactor: 1}"), "reductionFactor");
        cases.put(GOOD.replace("{choice: [32, 64]}", "{choice: [32, -5, 64, 128, 256]}"), "space.data.batchSize");
        cases.put(GOOD.replace("budget:", "budgt:"), "unknown sweep field");
        cases.forEach((yaml, expected) -> {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> parse(yaml), expected);
            assertTrue(e.getMessage().contains(expected), "'" + expected + "' in: " + e.getMessage());
        });
    }

    @Test
    void usersOwnArbiterSpacesDefineASweep() {
        Map<String, ParameterSpace<?>> space = new LinkedHashMap<>();
        space.put("overrides.updater.learningRate", new ContinuousParameterSpace(new LogUniformDistribution(1e-4, 1e-1)));
        space.put("data.batchSize", new DiscreteParameterSpace<>(64, 128));
        SweepSpec spec = SweepSpec.of("mine", TrainingRecipe.defaults(), space, SweepSpec.Objective.VALIDATION_ACCURACY,
                10, 0, new SamplerSpec.Tpe(1, 3), PrunerSpec.NONE);
        Map<String, String> s = spec.space().settings(new double[] {1, 0});
        assertEquals(0.1, Double.parseDouble(s.get("overrides.updater.learningRate")), 1e-9);
        assertEquals("64", s.get("data.batchSize"));
        space.put("overrides.updater.momentm", new ContinuousParameterSpace(0, 1));
        assertThrows(IllegalArgumentException.class, () -> SweepSpec.of("mine", TrainingRecipe.defaults(), space,
                SweepSpec.Objective.VALIDATION_ACCURACY, 10, 0, new SamplerSpec.Tpe(1, 3),
                PrunerSpec.NONE));
    }

    /**
     * On a synthetic objective (a quadratic bowl in log learning rate and weight decay, plus a penalty growing with the
     * batch size's distance from 64 in doublings), TPE's best after 30 trials is better than random search's on
     * average over 20 seeds. (With a single good batch size and a flat penalty for all others, the two tie at 30
     * trials: TPE can settle on the first good-looking choice.)
     */
    @Test
    void tpeBeatsRandomOnASyntheticObjective() {
        Map<String, ParameterSpace<?>> spaces = new LinkedHashMap<>();
        spaces.put("lr", SearchSpace.logUniform("lr", 1e-5, 1));
        spaces.put("wd", SearchSpace.uniform("wd", 0, 1));
        spaces.put("bs", SearchSpace.choice("bs", List.of(16, 32, 64, 128, 256)));
        SearchSpace space = new SearchSpace(spaces);
        double tpeSum = 0;
        double randomSum = 0;
        int tpeWins = 0;
        for (int seed = 0; seed < 20; seed++) {
            double tpe = bestOf(new TpeSampler(space, seed, 5), space, 30);
            double random = bestOf(Sampler.random(space, seed), space, 30);
            tpeSum += tpe;
            randomSum += random;
            tpeWins += tpe < random ? 1 : 0;
        }
        assertTrue(tpeSum < 0.75 * randomSum, "mean best loss: TPE " + tpeSum / 20 + ", random " + randomSum / 20);
        assertTrue(tpeWins >= 12, "TPE better on " + tpeWins + " of 20 seeds");
    }

    private static double bestOf(Sampler sampler, SearchSpace space, int trials) {
        List<Sampler.Observation> history = new ArrayList<>();
        double best = Double.POSITIVE_INFINITY;
        for (int n = 0; n < trials; n++) {
            double[] p = sampler.next(n, history);
            Map<String, Object> v = space.getValue(p);
            double lr = (Double) v.get("lr");
            double wd = (Double) v.get("wd");
            int bs = ((Number) v.get("bs")).intValue();
            double loss = Math.pow(Math.log10(lr) + 2.7, 2) + 3 * Math.pow(wd - 0.3, 2) + 0.2 * Math.abs(Math.log(bs / 64.0) / Math.log(2));
            history.add(new Sampler.Observation(p, loss));
            best = Math.min(best, loss);
        }
        return best;
    }

    @Test
    void ashaKeepsTheBestFractionAtEachRungAndTheMedianRuleTheBetterHalf() {
        Pruner.Asha asha = new Pruner.Asha(1, 3);
        assertTrue(asha.isRung(1) && asha.isRung(3) && asha.isRung(9) && !asha.isRung(2) && !asha.isRung(4));
        Map<Integer, Map<Integer, Double>> v = new LinkedHashMap<>();
        v.put(0, Map.of(1, 0.5));
        assertEquals(null, asha.check(0, 1, v), "the first trial at a rung goes on");
        v.put(1, Map.of(1, 0.9));
        assertTrue(asha.check(1, 1, v) != null, "2 at the rung, the best 2/3 -> 1 goes on: 0.9 stops");
        v.put(2, Map.of(1, 0.7));
        v.put(3, Map.of(1, 0.8));
        // 4 trials at rung 1, keep the best 4/3 = 1 (loss 0.5): trial 3 (0.8) stops, trial 0 goes on.
        assertTrue(asha.check(3, 1, v).contains("epoch 1"));
        assertEquals(null, asha.check(0, 1, v));
        v.put(4, Map.of(1, 0.1, 2, 0.1));
        assertEquals(null, asha.check(4, 2, v), "epoch 2 is no rung");
        // Six trials at rung 1: the best 2 go on (0.1 and 0.5); 0.7 stops.
        v.put(5, Map.of(1, 0.95));
        assertEquals(null, asha.check(0, 1, v));
        assertTrue(asha.check(2, 1, v) != null);

        Pruner.Median median = new Pruner.Median(2, 3);
        Map<Integer, Map<Integer, Double>> m = new LinkedHashMap<>();
        m.put(0, Map.of(1, 0.9, 2, 0.4));
        m.put(1, Map.of(1, 0.9, 2, 0.6));
        m.put(2, Map.of(2, 0.5));
        m.put(3, Map.of(1, 0.1, 2, 0.55));
        assertEquals(null, median.check(3, 1, m), "before the warm-up epochs nothing is pruned");
        assertTrue(median.check(3, 2, m) != null, "0.55 is worse than the others' median 0.5");
        m.put(3, Map.of(2, 0.45));
        assertEquals(null, median.check(3, 2, m));
        m.remove(2);
        assertEquals(null, median.check(3, 2, m), "fewer than 3 other trials: too early to judge");
    }
}
