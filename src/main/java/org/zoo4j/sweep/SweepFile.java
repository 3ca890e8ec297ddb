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
import org.zoo4j.base.ConfigException;
import org.zoo4j.base.Configs;
import org.zoo4j.recipe.TrainingRecipe;

/** Reads a sweep file (the format {@link SweepSpec} shows) into a {@link SweepSpec}; errors name the field. */
final class SweepFile {
    private SweepFile() {
    }

    static SweepSpec read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new ConfigException(file + ": no such file (a sweep file, e.g. training/sweeps/lenet5-lr.yaml)");
        }
        String stem = file.getFileName().toString().replaceFirst("\\.ya?ml$", "");
        try {
            return parse(Files.readString(file), stem, file.toAbsolutePath().getParent(), null);
        } catch (ConfigException e) {
            throw e.getMessage().startsWith(file.toString()) ? e : new ConfigException(file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Reads a sweep file's text; {@code recipe:} paths are tried as given, then relative to {@code dir} and its parents.
     * A non-null {@code recipeFile} is read instead of {@code recipe:} (a sweep's own saved copy).
     */
    static SweepSpec parse(String yaml, String defaultName, Path dir, Path recipeFile) throws IOException {
        JsonNode root = Configs.yaml().readTree(yaml);
        if (!(root instanceof ObjectNode obj)) {
            throw new ConfigException("a sweep file is a YAML mapping with recipe:, space:, budget: ...");
        }
        List<String> known = List.of("name", "recipe", "set", "space", "objective", "budget", "strategy", "pruner");
        obj.fieldNames().forEachRemaining(f -> {
            if (!known.contains(f)) {
                throw new ConfigException("unknown sweep field '" + f + "'; known: " + String.join(", ", known));
            }
        });
        String name = text(obj, "name", defaultName);
        String recipeName = text(obj, "recipe", null);
        if (recipeName == null) {
            throw new ConfigException("recipe: missing; name the base training recipe, e.g. "
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
        SweepSpec.Objective objective = SweepSpec.Objective.parse(text(obj, "objective", "validationAccuracy"));

        JsonNode budget = obj.get("budget");
        if (budget == null || !budget.isObject()) {
            throw new ConfigException("budget: missing; e.g. budget: {maxTrials: 20, maxMinutes: 30}");
        }
        checkFields(budget, "budget", List.of("maxTrials", "maxMinutes"));
        int maxTrials = budget.path("maxTrials").asInt(0);
        double maxMinutes = budget.path("maxMinutes").asDouble(0);

        SamplerSpec strategy = strategy(obj.path("strategy"));
        PrunerSpec prunerSpec = pruner(obj.path("pruner"));
        return new SweepSpec(name, base, space, objective, maxTrials, maxMinutes, strategy, prunerSpec);
    }

    /** {@code strategy: {type: tpe, seed: 1, startupTrials: 5}}; each type takes its own settings. */
    private static SamplerSpec strategy(JsonNode s) {
        String type = s.path("type").asText("random").toLowerCase(Locale.ROOT);
        long seed = s.path("seed").asLong(1);
        return switch (type) {
            case "random" -> {
                checkFields(s, "strategy (random)", List.of("type", "seed"));
                yield new SamplerSpec.Random(seed);
            }
            case "grid" -> {
                checkFields(s, "strategy (grid)", List.of("type", "seed", "gridPoints"));
                yield new SamplerSpec.Grid(seed, positive(s, "gridPoints", 5));
            }
            case "genetic" -> {
                checkFields(s, "strategy (genetic)", List.of("type", "seed", "population"));
                yield new SamplerSpec.Genetic(seed, positive(s, "population", 10));
            }
            case "tpe" -> {
                checkFields(s, "strategy (tpe)", List.of("type", "seed", "startupTrials"));
                yield new SamplerSpec.Tpe(seed, positive(s, "startupTrials", 5));
            }
            default -> throw new ConfigException("strategy.type: one of random, grid, genetic, tpe; got '" + type + "'");
        };
    }

    /** {@code pruner: {type: asha, minEpochs: 1, reductionFactor: 3}}; each type takes its own settings. */
    private static PrunerSpec pruner(JsonNode p) {
        String type = p.path("type").asText("none").toLowerCase(Locale.ROOT);
        return switch (type) {
            case "none" -> {
                checkFields(p, "pruner (none)", List.of("type"));
                yield PrunerSpec.NONE;
            }
            case "asha" -> {
                checkFields(p, "pruner (asha)", List.of("type", "minEpochs", "reductionFactor"));
                int factor = positive(p, "reductionFactor", 3);
                if (factor < 2) {
                    throw new ConfigException("pruner.reductionFactor: must be at least 2, got " + factor);
                }
                yield new PrunerSpec.Asha(positive(p, "minEpochs", 1), factor);
            }
            case "median" -> {
                checkFields(p, "pruner (median)", List.of("type", "minEpochs", "startupTrials"));
                yield new PrunerSpec.Median(positive(p, "minEpochs", 1), positive(p, "startupTrials", 3));
            }
            default -> throw new ConfigException("pruner.type: one of none, asha, median; got '" + type + "'");
        };
    }

    private static SearchSpace space(JsonNode node) {
        if (node == null || !node.isObject() || node.isEmpty()) {
            throw new ConfigException("space: missing or empty; e.g. space: {overrides.updater.learningRate: "
                    + "{logUniform: [1e-4, 0.1]}}");
        }
        Map<String, ParameterSpace<?>> spaces = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String key = e.getKey();
            JsonNode def = e.getValue();
            if (!def.isObject() || def.size() != 1) {
                throw new ConfigException("space." + key + ": one of {logUniform: [low, high]}, {uniform: "
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
                        throw new ConfigException("space." + key + ": choice takes a list, e.g. [32, 64]");
                    }
                    List<Object> values = new ArrayList<>();
                    arg.forEach(v -> values.add(scalar(v, key)));
                    yield SearchSpace.choice(key, values);
                }
                case "fixed" -> SearchSpace.fixed(scalar(arg, key));
                default -> throw new ConfigException("space." + key + ": unknown kind '" + kind
                        + "'; one of logUniform, uniform, int, choice, fixed");
            });
        }
        return new SearchSpace(spaces);
    }

    private static double bound(JsonNode arg, int i, String key) {
        if (!arg.isArray() || arg.size() != 2 || !arg.get(i).isNumber()) {
            throw new ConfigException("space." + key + ": a range is [low, high] with two numbers, got " + arg);
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
        throw new ConfigException("space." + key + ": values must be numbers, strings or booleans, got " + v);
    }

    private static String text(ObjectNode obj, String field, String fallback) {
        JsonNode n = obj.get(field);
        return n == null || n.isNull() ? fallback : n.asText();
    }

    private static Map<String, String> stringMap(JsonNode node, String field) {
        if (!node.isObject()) {
            throw new ConfigException(field + ": a mapping of recipe fields to values, e.g. {epochs: 3}");
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
            throw new ConfigException(field + ": a mapping with " + String.join(", ", known));
        }
        node.fieldNames().forEachRemaining(f -> {
            if (!known.contains(f)) {
                throw new ConfigException(field + ": unknown field '" + f + "'; known: " + String.join(", ", known));
            }
        });
    }

    private static int positive(JsonNode node, String field, int fallback) {
        int v = node.path(field).asInt(fallback);
        if (v < 1) {
            throw new ConfigException(field + ": must be at least 1, got " + v);
        }
        return v;
    }
}
