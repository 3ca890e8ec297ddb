package org.zoo4j.sweep;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.deeplearning4j.arbiter.BaseNetworkSpace;
import org.deeplearning4j.arbiter.DL4JConfiguration;
import org.deeplearning4j.arbiter.GraphConfiguration;
import org.deeplearning4j.arbiter.optimize.api.ParameterSpace;
import org.deeplearning4j.arbiter.optimize.distribution.LogUniformDistribution;
import org.deeplearning4j.arbiter.optimize.parameter.FixedValue;
import org.deeplearning4j.arbiter.optimize.parameter.continuous.ContinuousParameterSpace;
import org.deeplearning4j.arbiter.optimize.parameter.discrete.DiscreteParameterSpace;
import org.deeplearning4j.arbiter.optimize.parameter.integer.IntegerParameterSpace;
import org.zoo4j.base.ConfigException;

/**
 * A search space over recipe fields: each dotted recipe key ({@code overrides.updater.learningRate},
 * {@code data.batchSize}, ...) takes its values from an Arbiter {@link ParameterSpace}. The space itself is an Arbiter
 * parameter space whose value is the map of settings for {@code TrainingRecipe.with}, so Arbiter's candidate
 * generators search it as they are, and a point of the unit cube [0,1]^{@link #numParameters()} names one candidate.
 * <p>
 * Under the key {@link #MODEL} the space may be a whole network architecture, Arbiter's {@code MultiLayerSpace} or
 * {@code ComputationGraphSpace}: each trial then trains the network at its point, saved as its run's network file
 * (see {@code Dl4jNetworkFile}). Such a space's own leaves show as the settings {@code model[0]}, {@code model[1]}, ...
 */
public final class SearchSpace implements ParameterSpace<Map<String, Object>> {
    private final Map<String, ParameterSpace<?>> spaces;
    /** The distinct leaves in index order: leaf i reads point[offset(i) .. offset(i) + numParameters). */
    private final List<ParameterSpace<?>> leaves;
    private final int numParameters;
    /** The leaves of the network space under {@link #MODEL} that take coordinates; empty without one. */
    private final List<ParameterSpace<?>> networkLeaves;

    /** The recipe key under which a network space is searched. */
    public static final String MODEL = "model";

    /** A space over the given recipe keys, in the given order; the spaces may be any Arbiter parameter spaces. */
    public SearchSpace(Map<String, ? extends ParameterSpace<?>> spaces) {
        if (spaces.isEmpty()) {
            throw new ConfigException("space: no parameters to search; name at least one recipe field");
        }
        this.spaces = Collections.unmodifiableMap(new LinkedHashMap<>(spaces));
        this.spaces.forEach((key, space) -> {
            if (space instanceof BaseNetworkSpace<?> && !key.equals(MODEL)) {
                throw new ConfigException("space." + key + ": a network space (" + space.getClass().getSimpleName()
                        + ") is searched under the key '" + MODEL + "'");
            }
        });
        // The same unique-leaf order Arbiter's generators use, so every process and generator agrees on the indices.
        Map<ParameterSpace<?>, Boolean> unique = new IdentityHashMap<>();
        List<ParameterSpace<?>> ordered = new ArrayList<>();
        for (ParameterSpace<?> s : this.spaces.values()) {
            for (ParameterSpace<?> leaf : leavesOf(s)) {
                if (unique.put(leaf, Boolean.TRUE) == null) {
                    ordered.add(leaf);
                }
            }
        }
        int next = 0;
        for (ParameterSpace<?> leaf : ordered) {
            int n = leaf.numParameters();
            int[] indices = new int[n];
            for (int i = 0; i < n; i++) {
                indices[i] = next++;
            }
            if (n > 0) {
                leaf.setIndices(indices);
            }
        }
        this.leaves = List.copyOf(ordered);
        this.numParameters = next;
        List<ParameterSpace<?>> own = new ArrayList<>();
        if (network() != null) {
            Map<ParameterSpace<?>, Boolean> seen = new IdentityHashMap<>(); // equal spaces may be distinct leaves
            for (ParameterSpace<?> leaf : leavesOf(network())) {
                if (leaf.numParameters() > 0 && seen.put(leaf, Boolean.TRUE) == null) {
                    own.add(leaf);
                }
            }
        }
        this.networkLeaves = List.copyOf(own);
    }

    /** The network space under {@link #MODEL}, or null when the trials train the recipe's model. */
    private BaseNetworkSpace<?> network() {
        return spaces.get(MODEL) instanceof BaseNetworkSpace<?> n ? n : null;
    }

    @SuppressWarnings({"rawtypes", "unchecked"})
    private static List<ParameterSpace<?>> leavesOf(ParameterSpace<?> s) {
        List raw = s.collectLeaves();
        return (List<ParameterSpace<?>>) raw;
    }

    /** Log-uniform reals in [low, high]; both bounds must be > 0. */
    public static ParameterSpace<Double> logUniform(String key, double low, double high) {
        checkRange(key, low, high);
        if (low <= 0) {
            throw new ConfigException("space." + key + ": a log-uniform range needs bounds > 0, got [" + low
                    + ", " + high + "]; use uniform for ranges that include 0");
        }
        return new ContinuousParameterSpace(new LogUniformDistribution(low, high));
    }

    /** Uniform reals in [low, high]. */
    public static ParameterSpace<Double> uniform(String key, double low, double high) {
        checkRange(key, low, high);
        return new ContinuousParameterSpace(low, high);
    }

    /** Integers low..high, both included. */
    public static ParameterSpace<Integer> integers(String key, int low, int high) {
        checkRange(key, low, high);
        return new IntegerParameterSpace(low, high);
    }

    /** One of the given values. */
    public static ParameterSpace<Object> choice(String key, List<?> values) {
        if (values == null || values.isEmpty()) {
            throw new ConfigException("space." + key + ": choice needs at least one value");
        }
        return new DiscreteParameterSpace<>(new ArrayList<Object>(values));
    }

    /** Always this value. */
    public static ParameterSpace<Object> fixed(Object value) {
        return new FixedValue<>(value);
    }

    private static void checkRange(String key, double low, double high) {
        if (!Double.isFinite(low) || !Double.isFinite(high)) {
            throw new ConfigException("space." + key + ": bounds must be finite numbers, got [" + low + ", "
                    + high + "]");
        }
        if (!(low < high)) {
            throw new ConfigException("space." + key + ": " + (low == high ? "empty" : "inverted") + " range ["
                    + low + ", " + high + "]; give [low, high] with low < high, or use fixed: for a single value");
        }
    }

    /** The recipe keys searched, in order. */
    public List<String> keys() {
        return List.copyOf(spaces.keySet());
    }

    /** The keys of {@link #settings}: the recipe keys, with a network space's leaves as model[0], model[1], ... */
    public List<String> settingKeys() {
        List<String> keys = new ArrayList<>();
        for (String key : spaces.keySet()) {
            if (key.equals(MODEL) && network() != null) {
                for (int i = 0; i < networkLeaves.size(); i++) {
                    keys.add(MODEL + "[" + i + "]");
                }
            } else {
                keys.add(key);
            }
        }
        return keys;
    }

    /** The space behind a key of {@link #settingKeys()}. */
    public ParameterSpace<?> settingSpace(String key) {
        return isNetworkSetting(key) ? networkLeaves.get(Integer.parseInt(key.substring(MODEL.length() + 1,
                key.length() - 1))) : spaces.get(key);
    }

    /** True for the settings that describe a point of a network space, which are not recipe fields. */
    public static boolean isNetworkSetting(String key) {
        return key.startsWith(MODEL + "[");
    }

    /**
     * The network at a point as DL4J configuration JSON (what {@code MultiLayerConfiguration.toJson()} or
     * {@code ComputationGraphConfiguration.toJson()} writes), or null when no network space is searched.
     */
    public String networkJson(double[] point) {
        if (network() == null) {
            return null;
        }
        Object value = network().getValue(point);
        if (value instanceof DL4JConfiguration layers) {
            return layers.getMultiLayerConfiguration().toJson();
        }
        if (value instanceof GraphConfiguration graph) {
            return graph.getConfiguration().toJson();
        }
        throw new ConfigException("space.model: " + network().getClass().getSimpleName() + " gave a "
                + (value == null ? "null" : value.getClass().getSimpleName()) + ", not a DL4J network configuration");
    }

    public Map<String, ParameterSpace<?>> spaces() {
        return spaces;
    }

    /** The distinct leaf spaces in index order. */
    List<ParameterSpace<?>> leaves() {
        return leaves;
    }

    /** The recipe settings at a point of the unit cube. */
    public Map<String, String> settings(double[] point) {
        checkLength(point);
        Map<String, String> settings = new LinkedHashMap<>();
        spaces.forEach((key, space) -> {
            if (space instanceof BaseNetworkSpace<?>) {
                for (int i = 0; i < networkLeaves.size(); i++) {
                    settings.put(MODEL + "[" + i + "]", format(networkLeaves.get(i).getValue(point)));
                }
            } else {
                settings.put(key, format(space.getValue(point)));
            }
        });
        return settings;
    }

    /** A value as a recipe setting: numbers without needless digits. */
    static String format(Object value) {
        if (value instanceof Double d) {
            return d == Math.rint(d) && Math.abs(d) < 1e15 ? String.valueOf(d) : String.format(Locale.ROOT,
                    "%.6g", d).replaceAll("(\\.\\d*?)0+(e|$)", "$1$2").replace(".e", "e").replaceAll("\\.$", "");
        }
        return String.valueOf(value);
    }

    @Override
    public Map<String, Object> getValue(double[] point) {
        checkLength(point);
        Map<String, Object> values = new LinkedHashMap<>();
        spaces.forEach((key, space) -> values.put(key, space.getValue(point)));
        return values;
    }

    private void checkLength(double[] point) {
        if (point.length != numParameters) {
            throw new ConfigException("a point of this space has " + numParameters + " coordinates, got "
                    + point.length);
        }
    }

    @Override
    public int numParameters() {
        return numParameters;
    }

    @Override
    @SuppressWarnings({"rawtypes", "unchecked"})
    public List<ParameterSpace> collectLeaves() {
        return (List) new ArrayList<>(leaves);
    }

    @Override
    @SuppressWarnings({"rawtypes", "unchecked"})
    public Map<String, ParameterSpace> getNestedSpaces() {
        return (Map) spaces;
    }

    @Override
    public boolean isLeaf() {
        return false;
    }

    @Override
    public void setIndices(int... indices) {
        throw new UnsupportedOperationException("a SearchSpace is not a leaf; its leaves take the indices");
    }

    @Override
    public String toString() {
        return "SearchSpace" + spaces;
    }
}
