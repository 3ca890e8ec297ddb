package org.zoo4j.sweep;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.deeplearning4j.arbiter.optimize.api.ParameterSpace;
import org.zoo4j.training.TrainingRecipe;
import org.zoo4j.zoo.Configs;

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
                        double maxMinutes, Strategy strategy, PrunerSpec pruner) {

    public enum Objective {
        VALIDATION_ACCURACY("validationAccuracy", "accuracy", true), VALIDATION_LOSS("validationLoss", "loss", false);

        final String key;
        /** The recipe's monitor that picks best.zip by the same measure. */
        final String monitor;
        final boolean maximize;

        Objective(String key, String monitor, boolean maximize) {
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
        public double of(org.zoo4j.training.EpochMetrics m) {
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
            throw new IllegalArgumentException("objective: one of validationAccuracy (maximised), validationLoss "
                    + "(minimised); got '" + text + "'");
        }
    }

    /**
     * @param type        random, grid, genetic (Arbiter's generators) or tpe (zoo4j's tree-structured Parzen estimator)
     * @param seed        random seed; the same seed gives the same candidates
     * @param gridPoints  grid: values per continuous parameter
     * @param population  genetic: population size
     * @param startupTrials tpe: random trials before the model is used
     */
    public record Strategy(String type, long seed, int gridPoints, int population, int startupTrials) {
        static final List<String> TYPES = List.of("random", "grid", "genetic", "tpe");
    }

    /**
     * @param type            none, asha (successive halving at epoch rungs) or median
     * @param minEpochs       asha: the first rung (epochs); median: epochs before any trial is pruned
     * @param reductionFactor asha: rungs at minEpochs * factor^k, and 1/factor of the trials at a rung go on
     * @param startupTrials   median: trials that must have reported an epoch before it prunes
     */
    public record PrunerSpec(String type, int minEpochs, int reductionFactor, int startupTrials) {
        static final List<String> TYPES = List.of("none", "asha", "median");
        public static final PrunerSpec NONE = new PrunerSpec("none", 1, 3, 3);
    }

    public SweepSpec {
        if (maxTrials < 0 || maxMinutes < 0 || !Double.isFinite(maxMinutes)) {
            throw new IllegalArgumentException("budget: maxTrials and maxMinutes must be >= 0, got " + maxTrials + " and "
                    + maxMinutes);
        }
        if (maxTrials == 0 && maxMinutes == 0) {
            throw new IllegalArgumentException("budget: a budget of zero; set maxTrials (number of trials) and/or "
                    + "maxMinutes (wall time) to more than 0");
        }
        if (!name.matches("[A-Za-z0-9._-]+")) {
            throw new IllegalArgumentException("name: letters, digits, '.', '_' and '-' only; got '" + name + "'");
        }
        // The recipe monitors the objective, so each trial's best.zip is its best by the sweep's measure.
        base = base.with(Map.of("monitor", objective.monitor));
        checkKeys(base, space);
    }

    /** Applies a value of every key to the base recipe, so that an unknown or ill-typed field fails before any trial. */
    private static void checkKeys(TrainingRecipe base, SearchSpace space) {
        for (String key : space.keys()) {
            if (key.equals("monitor")) {
                throw new IllegalArgumentException("space." + key + ": set by the sweep's objective; not searchable");
            }
        }
        if (space.networkJson(new double[space.numParameters()]) != null) {
            for (String key : base.overrides().keySet()) {
                if (!key.equals("input")) {
                    throw new IllegalArgumentException("base recipe: overrides." + key + " cannot apply to the networks "
                            + "of the space searched under '" + SearchSpace.MODEL + "'; give only overrides.input (C,H,W)");
                }
            }
        }
        // Every coordinate at its ends and middle (every value of a choice), the others at their middle.
        int d = space.numParameters();
        List<double[]> points = new ArrayList<>();
        double[] middle = new double[d];
        java.util.Arrays.fill(middle, 0.5);
        points.add(middle);
        int coordinate = 0;
        for (ParameterSpace<?> leaf : space.leaves()) {
            for (int j = 0; j < leaf.numParameters(); j++, coordinate++) {
                List<Double> values = new ArrayList<>(List.of(0.0, 1.0));
                if (leaf instanceof org.deeplearning4j.arbiter.optimize.parameter.discrete.DiscreteParameterSpace<?> c) {
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
                    throw new IllegalArgumentException("space." + e.getKey() + ": not a recipe field this sweep can set "
                            + "to " + e.getValue() + ": " + ex.getMessage(), ex);
                }
            }
        }
        // Combinations are not checked here: one the model refuses is recorded as a failed trial and the sweep goes on.
    }

    /** A programmatic sweep: any Arbiter parameter spaces keyed by recipe field. */
    public static SweepSpec of(String name, TrainingRecipe base, Map<String, ? extends ParameterSpace<?>> space,
                               Objective objective, int maxTrials, double maxMinutes, Strategy strategy,
                               PrunerSpec pruner) {
        return new SweepSpec(name, base, new SearchSpace(space), objective, maxTrials, maxMinutes, strategy, pruner);
    }

    public static SweepSpec read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new java.nio.file.NoSuchFileException(file + " (a sweep file, e.g. training/sweeps/lenet5-lr.yaml)");
        }
        String stem = file.getFileName().toString().replaceFirst("\\.ya?ml$", "");
        return parse(Files.readString(file), stem, file.toAbsolutePath().getParent(), null);
    }

    /**
     * Reads a sweep file's text; {@code recipe:} paths are tried as given, then relative to {@code dir} and its parents.
     * A non-null {@code recipeFile} is read instead of {@code recipe:} (a sweep's own saved copy).
     */
    public static SweepSpec parse(String yaml, String defaultName, Path dir, Path recipeFile) throws IOException {
        JsonNode root = Configs.yaml().readTree(yaml);
        if (!(root instanceof ObjectNode obj)) {
            throw new IllegalArgumentException("a sweep file is a YAML mapping with recipe:, space:, budget: ...");
        }
        List<String> known = List.of("name", "recipe", "set", "space", "objective", "budget", "strategy", "pruner");
        obj.fieldNames().forEachRemaining(f -> {
            if (!known.contains(f)) {
                throw new IllegalArgumentException("unknown sweep field '" + f + "'; known: " + String.join(", ", known));
            }
        });
        String name = text(obj, "name", defaultName);
        String recipeName = text(obj, "recipe", null);
        if (recipeName == null) {
            throw new IllegalArgumentException("recipe: missing; name the base training recipe, e.g. "
                    + "recipe: training/lenet5-fashion-mnist.yaml");
        }
        Path recipePath = recipeFile != null ? recipeFile : Path.of(recipeName);
        if (!Files.exists(recipePath) && dir != null) {
            for (Path d = dir; d != null; d = d.getParent()) {
                if (Files.exists(d.resolve(recipeName))) {
                    recipePath = d.resolve(recipeName);
                    break;
                }
            }
        }
        TrainingRecipe base = TrainingRecipe.read(recipePath);
        if (obj.has("set")) {
            base = base.with(stringMap(obj.get("set"), "set"));
        }
        SearchSpace space = space(obj.get("space"));
        Objective objective = Objective.parse(text(obj, "objective", "validationAccuracy"));

        JsonNode budget = obj.get("budget");
        if (budget == null || !budget.isObject()) {
            throw new IllegalArgumentException("budget: missing; e.g. budget: {maxTrials: 20, maxMinutes: 30}");
        }
        checkFields(budget, "budget", List.of("maxTrials", "maxMinutes"));
        int maxTrials = budget.path("maxTrials").asInt(0);
        double maxMinutes = budget.path("maxMinutes").asDouble(0);

        JsonNode s = obj.path("strategy");
        checkFields(s, "strategy", List.of("type", "seed", "gridPoints", "population", "startupTrials"));
        String type = s.path("type").asText("random").toLowerCase(Locale.ROOT);
        if (!Strategy.TYPES.contains(type)) {
            throw new IllegalArgumentException("strategy.type: one of " + String.join(", ", Strategy.TYPES) + "; got '"
                    + type + "'");
        }
        Strategy strategy = new Strategy(type, s.path("seed").asLong(1), positive(s, "gridPoints", 5),
                positive(s, "population", 10), positive(s, "startupTrials", 5));

        JsonNode p = obj.path("pruner");
        checkFields(p, "pruner", List.of("type", "minEpochs", "reductionFactor", "startupTrials"));
        String pruner = p.path("type").asText("none").toLowerCase(Locale.ROOT);
        if (!PrunerSpec.TYPES.contains(pruner)) {
            throw new IllegalArgumentException("pruner.type: one of " + String.join(", ", PrunerSpec.TYPES) + "; got '"
                    + pruner + "'");
        }
        int factor = positive(p, "reductionFactor", 3);
        if (factor < 2) {
            throw new IllegalArgumentException("pruner.reductionFactor: must be at least 2, got " + factor);
        }
        PrunerSpec prunerSpec = new PrunerSpec(pruner, positive(p, "minEpochs", 1), factor, positive(p, "startupTrials", 3));
        return new SweepSpec(name, base, space, objective, maxTrials, maxMinutes, strategy, prunerSpec);
    }

    private static SearchSpace space(JsonNode node) {
        if (node == null || !node.isObject() || node.isEmpty()) {
            throw new IllegalArgumentException("space: missing or empty; e.g. space: {overrides.updater.learningRate: "
                    + "{logUniform: [1e-4, 0.1]}}");
        }
        Map<String, ParameterSpace<?>> spaces = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String key = e.getKey();
            JsonNode def = e.getValue();
            if (!def.isObject() || def.size() != 1) {
                throw new IllegalArgumentException("space." + key + ": one of {logUniform: [low, high]}, {uniform: "
                        + "[low, high]}, {int: [low, high]}, {choice: [a, b, ...]}, {fixed: value}");
            }
            String kind = def.fieldNames().next();
            JsonNode arg = def.get(kind);
            spaces.put(key, switch (kind) {
                case "logUniform" -> SearchSpace.logUniform(key, bound(arg, 0, key), bound(arg, 1, key));
                case "uniform" -> SearchSpace.uniform(key, bound(arg, 0, key), bound(arg, 1, key));
                case "int" -> SearchSpace.integers(key, (int) bound(arg, 0, key), (int) bound(arg, 1, key));
                case "choice" -> {
                    if (!arg.isArray()) {
                        throw new IllegalArgumentException("space." + key + ": choice takes a list, e.g. [32, 64]");
                    }
                    List<Object> values = new ArrayList<>();
                    arg.forEach(v -> values.add(scalar(v, key)));
                    yield SearchSpace.choice(key, values);
                }
                case "fixed" -> SearchSpace.fixed(scalar(arg, key));
                default -> throw new IllegalArgumentException("space." + key + ": unknown kind '" + kind
                        + "'; one of logUniform, uniform, int, choice, fixed");
            });
        }
        return new SearchSpace(spaces);
    }

    private static double bound(JsonNode arg, int i, String key) {
        if (!arg.isArray() || arg.size() != 2 || !arg.get(i).isNumber()) {
            throw new IllegalArgumentException("space." + key + ": a range is [low, high] with two numbers, got " + arg);
        }
        return arg.get(i).asDouble();
    }

    private static Object scalar(JsonNode v, String key) {
        if (v.isIntegralNumber()) {
            return v.asLong();
        }
        if (v.isNumber()) {
            return v.asDouble();
        }
        if (v.isTextual() || v.isBoolean()) {
            return v.asText();
        }
        throw new IllegalArgumentException("space." + key + ": values must be numbers, strings or booleans, got " + v);
    }

    private static String text(ObjectNode obj, String field, String fallback) {
        JsonNode n = obj.get(field);
        return n == null || n.isNull() ? fallback : n.asText();
    }

    private static Map<String, String> stringMap(JsonNode node, String field) {
        if (!node.isObject()) {
            throw new IllegalArgumentException(field + ": a mapping of recipe fields to values, e.g. {epochs: 3}");
        }
        Map<String, String> m = new LinkedHashMap<>();
        node.fields().forEachRemaining(e -> m.put(e.getKey(), e.getValue().asText()));
        return m;
    }

    private static void checkFields(JsonNode node, String field, List<String> known) {
        if (node.isMissingNode() || node.isNull()) {
            return;
        }
        if (!node.isObject()) {
            throw new IllegalArgumentException(field + ": a mapping with " + String.join(", ", known));
        }
        node.fieldNames().forEachRemaining(f -> {
            if (!known.contains(f)) {
                throw new IllegalArgumentException(field + ": unknown field '" + f + "'; known: " + String.join(", ", known));
            }
        });
    }

    private static int positive(JsonNode node, String field, int fallback) {
        int v = node.path(field).asInt(fallback);
        if (v < 1) {
            throw new IllegalArgumentException(field + ": must be at least 1, got " + v);
        }
        return v;
    }
}
