package org.zoo4j.transfer;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.layers.BaseOutputLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.params.BatchNormalizationParamInitializer;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Loads a PyTorch state dict (torchvision or timm naming, read from safetensors) into a zoo {@link ComputationGraph}.
 * The zoo names its layers after torchvision's modules, so a DL4J parameter {@code <layer>_<key>} corresponds to the
 * tensor {@code <layer>.<torch key>}:
 * <ul>
 *   <li>convolution and dense: {@code W} = {@code weight}, {@code b} = {@code bias}; dense weights are transposed
 *       (DL4J keeps [in, out], torch [out, in]); convolution weights are [out, in, kh, kw] on both sides;</li>
 *   <li>batch norm: {@code gamma}, {@code beta}, {@code mean} = {@code weight}, {@code bias}, {@code running_mean};
 *       {@code var} = {@code running_var}, or, where DL4J stores {@code log10stdev} (its default),
 *       log10(sqrt(running_var)): DL4J squares 10^x back into the variance and adds eps itself;</li>
 *   <li>{@code num_batches_tracked} has no counterpart and is ignored.</li>
 * </ul>
 * Everything is checked before anything is written into the graph: missing tensors, unexpected tensors and shape
 * mismatches are all listed in one error, and the graph is left untouched.
 */
public final class WeightsImport {
    private WeightsImport() {
    }

    /**
     * @param skipHead leave the output layer as initialised (for fine-tuning with another class count) and ignore the
     *                 file's tensors for it
     */
    public record Options(boolean skipHead) {
        public static final Options ALL = new Options(false);
        public static final Options WITHOUT_HEAD = new Options(true);
    }

    /**
     * What was imported.
     *
     * @param tensors    tensors copied into the graph
     * @param values     numbers copied
     * @param skipped    file tensors deliberately not used (the head, when skipped; {@code num_batches_tracked})
     * @param keptLayers layers left as initialised (the head, when skipped)
     */
    public record Result(int tensors, long values, List<String> skipped, List<String> keptLayers) {
    }

    /** One DL4J parameter and the file tensor that fills it. */
    private record Target(String layer, String param, String tensor, Kind kind) {
    }

    private enum Kind { CONV_WEIGHT, DENSE_WEIGHT, VECTOR, LOG10_STD }

    /** Copies the file's tensors into {@code graph}'s parameters, or throws without changing the graph. */
    public static Result load(ComputationGraph graph, SafeTensors weights, Options options) throws IOException {
        Set<String> heads = Set.copyOf(graph.getConfiguration().getNetworkOutputs());
        List<Target> targets = new ArrayList<>();
        List<String> keptLayers = new ArrayList<>();
        for (Layer layer : graph.getLayers()) {
            String name = layer.conf().getLayer().getLayerName();
            if (layer.numParams() == 0) {
                continue;
            }
            if (options.skipHead() && heads.contains(name)) {
                keptLayers.add(name);
                continue;
            }
            targets.addAll(targetsOf(name, layer));
        }

        Map<String, SafeTensors.Info> file = weights.tensors();
        List<String> missing = new ArrayList<>();
        List<String> mismatched = new ArrayList<>();
        for (Target t : targets) {
            SafeTensors.Info info = file.get(t.tensor());
            if (info == null) {
                missing.add(t.tensor());
                continue;
            }
            long[] expected = torchShape(graph.getParam(t.layer() + "_" + t.param()), t.kind());
            if (!Arrays.equals(expected, info.shape())) {
                mismatched.add(t.tensor() + " is " + shapeText(info.shape()) + " in the file but the model needs "
                        + shapeText(expected));
            } else if (!info.dtype().floating) {
                mismatched.add(t.tensor() + " has dtype " + info.dtype() + ", not a floating-point type");
            }
        }
        Set<String> used = targets.stream().map(Target::tensor).collect(Collectors.toSet());
        Set<String> headPrefixes = keptLayers.stream().map(l -> l + ".").collect(Collectors.toSet());
        List<String> unexpected = new ArrayList<>();
        List<String> skipped = new ArrayList<>();
        for (String tensor : new TreeSet<>(file.keySet())) {
            if (used.contains(tensor)) {
                continue;
            }
            if (tensor.endsWith(".num_batches_tracked") || headPrefixes.stream().anyMatch(tensor::startsWith)) {
                skipped.add(tensor);
            } else {
                unexpected.add(tensor);
            }
        }
        if (!missing.isEmpty() || !mismatched.isEmpty() || !unexpected.isEmpty()) {
            throw new WeightsMismatchException(weights.file() + " does not fit the model", missing, unexpected,
                    mismatched);
        }

        long values = 0;
        for (Target t : targets) {
            INDArray param = graph.getParam(t.layer() + "_" + t.param());
            float[] data = weights.floats(t.tensor());
            param.assign(toDl4j(data, weights.info(t.tensor()).shape(), param, t));
            values += data.length;
        }
        return new Result(targets.size(), values, List.copyOf(skipped), List.copyOf(keptLayers));
    }

    private static List<Target> targetsOf(String name, Layer layer) {
        org.deeplearning4j.nn.conf.layers.Layer conf = layer.conf().getLayer();
        Set<String> keys = layer.paramTable().keySet();
        List<Target> out = new ArrayList<>();
        if (conf instanceof BatchNormalization) {
            for (String key : keys) {
                switch (key) {
                    case BatchNormalizationParamInitializer.GAMMA -> out.add(new Target(name, key, name + ".weight", Kind.VECTOR));
                    case BatchNormalizationParamInitializer.BETA -> out.add(new Target(name, key, name + ".bias", Kind.VECTOR));
                    case BatchNormalizationParamInitializer.GLOBAL_MEAN -> out.add(new Target(name, key, name + ".running_mean", Kind.VECTOR));
                    case BatchNormalizationParamInitializer.GLOBAL_VAR -> out.add(new Target(name, key, name + ".running_var", Kind.VECTOR));
                    case BatchNormalizationParamInitializer.GLOBAL_LOG_STD -> out.add(new Target(name, key, name + ".running_var", Kind.LOG10_STD));
                    default -> throw unsupported(name, conf, key);
                }
            }
        } else if (conf instanceof ConvolutionLayer || conf instanceof DenseLayer || conf instanceof BaseOutputLayer) {
            Kind weight = conf instanceof ConvolutionLayer ? Kind.CONV_WEIGHT : Kind.DENSE_WEIGHT;
            for (String key : keys) {
                switch (key) {
                    case "W" -> out.add(new Target(name, key, name + ".weight", weight));
                    case "b" -> out.add(new Target(name, key, name + ".bias", Kind.VECTOR));
                    default -> throw unsupported(name, conf, key);
                }
            }
        } else {
            throw new WeightsException("layer " + name + " (" + conf.getClass().getSimpleName()
                    + ") has parameters but no known torch counterpart; import supports convolution, dense and batch norm");
        }
        return out;
    }

    private static IllegalArgumentException unsupported(String layer, Object conf, String key) {
        return new WeightsException("layer " + layer + " (" + conf.getClass().getSimpleName()
                + ") has parameter " + key + " with no known torch counterpart");
    }

    /** The shape torch gives the tensor for this DL4J parameter. */
    private static long[] torchShape(INDArray param, Kind kind) {
        return switch (kind) {
            case CONV_WEIGHT -> param.shape();
            case DENSE_WEIGHT -> new long[] {param.size(1), param.size(0)};
            case VECTOR, LOG10_STD -> new long[] {param.length()};
        };
    }

    private static INDArray toDl4j(float[] data, long[] torchShape, INDArray param, Target t) {
        INDArray a = Nd4j.create(data, torchShape, 'c').castTo(param.dataType());
        return switch (t.kind()) {
            case CONV_WEIGHT -> a;
            case DENSE_WEIGHT -> a.transpose();
            case VECTOR -> a.reshape(param.shape());
            // DL4J M2.1 recovers the variance as (10^x)^2 and then normalises by sqrt(var + eps) itself, so x is
            // log10(sqrt(running_var)) without eps (with eps added here, the parity test is off by ~eps/var per
            // layer). A zero variance is floored so that the parameter stays finite.
            case LOG10_STD -> {
                double[] log10Std = new double[data.length];
                for (int i = 0; i < data.length; i++) {
                    log10Std[i] = 0.5 * Math.log10(Math.max(data[i], Float.MIN_NORMAL));
                }
                yield Nd4j.createFromArray(log10Std).reshape(param.shape()).castTo(param.dataType());
            }
        };
    }

    static String shapeText(long[] shape) {
        return Arrays.stream(shape).mapToObj(Long::toString).collect(Collectors.joining(", ", "[", "]"));
    }

    /** The file's tensors do not match the model; lists every problem. A user error. */
    public static final class WeightsMismatchException extends WeightsException {
        private final List<String> missing;
        private final List<String> unexpected;
        private final List<String> mismatched;

        WeightsMismatchException(String what, List<String> missing, List<String> unexpected, List<String> mismatched) {
            super(describe(what, missing, unexpected, mismatched));
            this.missing = List.copyOf(missing);
            this.unexpected = List.copyOf(unexpected);
            this.mismatched = List.copyOf(mismatched);
        }

        private static String describe(String what, List<String> missing, List<String> unexpected,
                                       List<String> mismatched) {
            Map<String, List<String>> parts = new LinkedHashMap<>();
            parts.put("wrong shape", mismatched);
            parts.put("missing from the file", missing);
            parts.put("unexpected in the file", unexpected);
            StringBuilder sb = new StringBuilder(what);
            parts.forEach((label, items) -> {
                if (!items.isEmpty()) {
                    sb.append("; ").append(items.size()).append(' ').append(label).append(": ")
                            .append(String.join(", ", items.size() > 20 ? items.subList(0, 20) : items))
                            .append(items.size() > 20 ? ", ..." : "");
                }
            });
            if (!unexpected.isEmpty() && missing.isEmpty() && mismatched.isEmpty()) {
                sb.append(" (a head of another size, or another architecture? --skip-head ignores the classifier)");
            }
            return sb.toString();
        }

        public List<String> missing() {
            return missing;
        }

        public List<String> unexpected() {
            return unexpected;
        }

        public List<String> mismatched() {
            return mismatched;
        }
    }
}
