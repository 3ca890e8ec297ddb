package org.zoo4j.sweep;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.arbiter.optimize.api.ParameterSpace;
import org.deeplearning4j.arbiter.optimize.parameter.discrete.DiscreteParameterSpace;
import org.zoo4j.base.ConfigException;
import org.zoo4j.modelfile.EpochMetrics;
import org.zoo4j.recipe.Monitor;
import org.zoo4j.recipe.TrainingRecipe;

/**
 * A sweep as written in {@code training/sweeps/*.yaml}:
 * <pre>
 * name: lenet5-lr
 * recipe: training/lenet5-fashion-mnist.yaml
 * set: {data.subset: 12000, epochs: 3}            # fixed changes to the base recipe
 * space:
 *   overrides.updater.learningRate: {logUniform: [1e-4, 0.1]}
 *   weightDecay: {uniform: [0, 0.0005]}
 *   data.batchSize: {choice: [32, 64, 128]}
 *   epochs: {int: [1, 4]}
 *   schedule.type: {fixed: cosine}
 * objective: validationAccuracy                    # or validationLoss (minimised)
 * budget: {maxTrials: 30, maxMinutes: 20}
 * strategy: {type: tpe, seed: 1}                  # random, grid, genetic or tpe
 * pruner: {type: asha, minEpochs: 1, reductionFactor: 3}   # none, asha or median
 * </pre>
 *
 * @param name     the sweep's name: its directory under the sweeps folder (default: the file name)
 * @param base     the base recipe, with {@code set} applied
 * @param space    the recipe fields searched
 * @param objective validationAccuracy (maximised) or validationLoss (minimised); a trial's value is its best epoch's
 * @param maxTrials at most this many trials are started (0 = no limit, then maxMinutes must be set)
 * @param maxMinutes no trial starts after this many minutes of one sweep invocation, and running ones are stopped
 *                  with a checkpoint and continued by {@code --resume} (0 = no limit)
 * @param strategy how candidates are chosen
 * @param pruner   when trials are stopped early
 */
public record SweepSpec(String name, TrainingRecipe base, SearchSpace space, Objective objective, int maxTrials,
                        double maxMinutes, SamplerSpec strategy, PrunerSpec pruner) {

    public enum Objective {
        VALIDATION_ACCURACY("validationAccuracy", Monitor.ACCURACY, true),
        VALIDATION_LOSS("validationLoss", Monitor.LOSS, false);

        final String key;
        /** The recipe's monitor that picks best.zip by the same measure. */
        final Monitor monitor;
        final boolean maximize;

        Objective(String key, Monitor monitor, boolean maximize) {
            this.key = key;
            this.monitor = monitor;
            this.maximize = maximize;
        }

        public String key() {
            return key;
        }

        public boolean maximize() {
            return maximize;
        }

        /** The epoch's value of this objective. */
        public double of(EpochMetrics m) {
            return maximize ? m.validationAccuracy() : m.validationLoss();
        }

        /** True when a is better than b. */
        public boolean better(double a, double b) {
            return maximize ? a > b : a < b;
        }

        static Objective parse(String text) {
            for (Objective o : values()) {
                if (o.key.equalsIgnoreCase(text)) {
                    return o;
                }
            }
            throw new ConfigException("objective: one of validationAccuracy (maximised), validationLoss "
                    + "(minimised); got '" + text + "'");
        }
    }

    public SweepSpec {
        if (maxTrials < 0 || maxMinutes < 0 || !Double.isFinite(maxMinutes)) {
            throw new ConfigException("budget: maxTrials and maxMinutes must be >= 0, got " + maxTrials + " and "
                    + maxMinutes);
        }
        if (maxTrials == 0 && maxMinutes == 0) {
            throw new ConfigException("budget: a budget of zero; set maxTrials (number of trials) and/or "
                    + "maxMinutes (wall time) to more than 0");
        }
        if (!name.matches("[A-Za-z0-9._-]+")) {
            throw new ConfigException("name: letters, digits, '.', '_' and '-' only; got '" + name + "'");
        }
        // The recipe monitors the objective, so each trial's best.zip is its best by the sweep's measure.
        base = base.with(Map.of("monitor", objective.monitor.toString()));
        checkKeys(base, space);
    }

    /** Applies a value of every key to the base recipe, so that an unknown or ill-typed field fails before any trial. */
    private static void checkKeys(TrainingRecipe base, SearchSpace space) {
        for (String key : space.keys()) {
            if (key.equals("monitor")) {
                throw new ConfigException("space." + key + ": set by the sweep's objective; not searchable");
            }
        }
        if (space.networkJson(new double[space.numParameters()]) != null) {
            for (String key : base.overrides().keySet()) {
                if (!key.equals("input")) {
                    throw new ConfigException("base recipe: overrides." + key + " cannot apply to the networks "
                            + "of the space searched under '" + SearchSpace.MODEL + "'; give only overrides.input (C,H,W)");
                }
            }
        }
        // Every coordinate at its ends and middle (every value of a choice), the others at their middle.
        int d = space.numParameters();
        List<double[]> points = new ArrayList<>();
        double[] middle = new double[d];
        Arrays.fill(middle, 0.5);
        points.add(middle);
        int coordinate = 0;
        for (ParameterSpace<?> leaf : space.leaves()) {
            for (int j = 0; j < leaf.numParameters(); j++, coordinate++) {
                List<Double> values = new ArrayList<>(List.of(0.0, 1.0));
                if (leaf instanceof DiscreteParameterSpace<?> c) {
                    for (int k = 0; k < c.numValues(); k++) {
                        values.add((k + 0.5) / c.numValues());
                    }
                }
                for (double v : values) {
                    double[] p = middle.clone();
                    p[coordinate] = v;
                    points.add(p);
                }
            }
        }
        for (double[] point : points) {
            Map<String, String> settings = space.settings(point);
            for (Map.Entry<String, String> e : settings.entrySet()) {
                if (SearchSpace.isNetworkSetting(e.getKey())) {
                    continue; // a network space's coordinates, not recipe fields: its networks are checked per trial
                }
                try {
                    base.with(Map.of(e.getKey(), e.getValue()));
                } catch (IllegalArgumentException ex) {
                    throw new ConfigException("space." + e.getKey() + ": not a recipe field this sweep can set "
                            + "to " + e.getValue() + ": " + ex.getMessage(), ex);
                }
            }
        }
        // Combinations are not checked here: one the model refuses is recorded as a failed trial and the sweep goes on.
    }

    /** A programmatic sweep: any Arbiter parameter spaces keyed by recipe field. */
    public static SweepSpec of(String name, TrainingRecipe base, Map<String, ? extends ParameterSpace<?>> space,
                               Objective objective, int maxTrials, double maxMinutes, SamplerSpec strategy,
                               PrunerSpec pruner) {
        return new SweepSpec(name, base, new SearchSpace(space), objective, maxTrials, maxMinutes, strategy, pruner);
    }

    /** The sweep in a sweep file (see {@link SweepFile}). */
    public static SweepSpec read(Path file) throws IOException {
        return SweepFile.read(file);
    }
}
