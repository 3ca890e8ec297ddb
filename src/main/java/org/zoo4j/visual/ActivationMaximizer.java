package org.zoo4j.visual;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.WorkspaceMode;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.DepthwiseConvolution2D;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.vertex.GraphVertex;
import org.deeplearning4j.nn.graph.vertex.VertexIndices;
import org.deeplearning4j.nn.layers.BaseOutputLayer;
import org.deeplearning4j.nn.params.BatchNormalizationParamInitializer;
import org.deeplearning4j.nn.params.DepthwiseConvolutionParamInitializer;
import org.deeplearning4j.nn.weights.WeightInit;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;
import org.zoo4j.base.ConfigException;
import org.zoo4j.runtime.LayerHelpers;

/**
 * An input that maximises one filter's mean activation at a layer, found by gradient ascent on the input from noise
 * (Erhan et al., 2009; Simonyan et al., 2013).
 *
 * <p>DL4J's ComputationGraph gives gradients for parameters, not for its input, so the network is cut after the chosen
 * layer (a copy that holds only the vertices the layer depends on, with the same weights), the error
 * "d(mean activation of filter K)/d(activations)" is passed backwards through it vertex by vertex, and what reaches the
 * input is the gradient. Each step is normalised by the gradient's RMS (so that the step size does not depend on the
 * layer's scale); a small decay towards grey and, every few steps, a light blur keep the image from filling with
 * high-frequency noise; pixels stay within the range of real images.
 */
public final class ActivationMaximizer {
    /**
     * Settings of the ascent.
     *
     * @param steps     gradient steps
     * @param stepSize  change of each input value per step, in units of the normalised input (a [0,1] image: 1 = full range)
     * @param decay     fraction of the distance to mid-grey removed each step (L2 regularisation)
     * @param blurEvery blur the image with a 3x3 binomial kernel every this many steps (0: never)
     * @param seed      seed of the starting noise
     */
    public record Settings(int steps, double stepSize, double decay, int blurEvery, long seed) {
        public static Settings defaults() {
            return new Settings(100, 0.05, 0.002, 8, 42);
        }

        public Settings {
            if (steps < 1 || !(stepSize > 0) || !(decay >= 0 && decay < 1) || blurEvery < 0) {
                throw new ConfigException("maximize: steps >= 1, step size > 0, 0 <= decay < 1 and blur >= 0"
                        + " needed, got " + steps + ", " + stepSize + ", " + decay + ", " + blurEvery);
            }
        }
    }

    /**
     * The outcome.
     *
     * @param input  the found input [1, C, H, W], normalised as the network sees it
     * @param start  the filter's mean activation for the starting noise
     * @param end    the filter's mean activation for the found input (the best seen during the ascent)
     * @param trace  the mean activation before each step and after the last
     */
    public record Result(INDArray input, double start, double end, double[] trace) {
        /** The found input as a picture tile (grey or RGB), scaled by its own range. */
        public Mosaic.Tile tile() {
            return Mosaic.Tile.image(input.slice(0));
        }
    }

    /** Noise images tried as starting points before a filter is declared silent. */
    private static final int START_ATTEMPTS = 8;

    private final VisualModel model;
    private final String layer;
    private final ComputationGraph cut;

    /** Prepares the cut network for {@code layer}; the layer must not be the classifier (it has no free output). */
    public ActivationMaximizer(VisualModel model, String layer) {
        this.model = model;
        this.layer = model.requireLayer(layer);
        GraphVertex vertex = model.net().getVertex(layer);
        if (vertex.isInputVertex()) {
            throw new ConfigException("--layer: " + layer + " is the input; choose a layer after it");
        }
        if (vertex.hasLayer() && vertex.getLayer() instanceof BaseOutputLayer) {
            throw new ConfigException("--layer: " + layer + " is the output layer, whose gradient comes from its"
                    + " loss; choose a hidden layer");
        }
        this.cut = cutAfter(model.net(), layer);
    }

    /** Number of filters (channels, or units of a vector layer) of the layer. */
    public int filters() {
        INDArray probe = Nd4j.zeros(DataType.FLOAT, 1, model.input().channels(), model.input().height(),
                model.input().width());
        return (int) cut.outputSingle(false, probe).size(1);
    }

    /** Runs the ascent for filter {@code filter}. */
    public Result maximize(int filter, Settings s) {
        int filters = filters();
        if (filter < 0 || filter >= filters) {
            throw new ConfigException("--filter: " + layer + " has filters 0 to " + (filters - 1) + ", got " + filter);
        }
        int c = model.input().channels();
        INDArray lo = bound(0), hi = bound(255), grey = bound(127.5);
        // Starting point: mid-grey plus noise (standard deviation 20 of 255). A filter behind a ReLU may be silent for
        // such an image (no activation, no gradient): then dark noise (as the black background of many datasets) and
        // stronger noise from other seeds are tried before giving up.
        INDArray x = null;
        for (int attempt = 0; attempt < START_ATTEMPTS && x == null; attempt++) {
            double centre = attempt % 2 == 0 ? 127.5 : 32;
            double spread = 20.0 * (1 << (attempt / 2));
            INDArray noise = Nd4j.getRandomFactory().getNewRandomInstance(s.seed() + attempt).nextGaussian(
                    new long[] {1, c, model.input().height(), model.input().width()}).castTo(DataType.FLOAT);
            noise = clamp(model.normalization().apply(noise.muli(spread).addi(centre)), lo, hi);
            if (gradient(noise, filter).rms() > 0) {
                x = noise;
            }
        }
        if (x == null) {
            throw new ConfigException("--filter: filter " + filter + " of " + layer + " does not respond to"
                    + " noise (its activation and gradient are zero for " + START_ATTEMPTS + " noise images); it may be"
                    + " a dead unit, try another filter");
        }
        double[] trace = new double[s.steps() + 1];
        // Blur and clamping may undo part of a step, so the best input seen is kept, not simply the last.
        INDArray best = x;
        double bestValue = Double.NEGATIVE_INFINITY;
        for (int step = 0; step < s.steps(); step++) {
            Gradient g = gradient(x, filter);
            trace[step] = g.objective;
            if (g.objective > bestValue) {
                best = x;
                bestValue = g.objective;
            }
            double rms = g.rms();
            if (!(rms > 0)) {
                Arrays.fill(trace, step + 1, trace.length, g.objective); // silent: nothing more to climb
                break;
            }
            x = x.add(g.input.muli(s.stepSize() / rms));
            x.subi(x.sub(grey).muli(s.decay()));
            if (s.blurEvery() > 0 && (step + 1) % s.blurEvery() == 0) {
                x = blur(x);
            }
            x = clamp(x, lo, hi);
        }
        trace[s.steps()] = objective(x, filter);
        if (trace[s.steps()] > bestValue) {
            best = x;
            bestValue = trace[s.steps()];
        }
        return new Result(best, trace[0], bestValue, trace);
    }

    /** The filter's mean activation for input {@code x}. */
    public double objective(INDArray x, int filter) {
        INDArray a = cut.outputSingle(false, x);
        return slice(a, filter).meanNumber().doubleValue();
    }

    record Gradient(double objective, INDArray input) {
        double rms() {
            return Math.sqrt(input.mul(input).meanNumber().doubleValue());
        }
    }

    /**
     * The objective and its gradient with respect to the input. DL4J's own backward pass does not keep the error
     * that reaches the network input, so the vertices are walked here in reverse order, each one's doBackward turning
     * the error at its output into errors at its inputs, summed where a vertex feeds several others.
     */
    Gradient gradient(INDArray x, int filter) {
        Map<String, INDArray> acts = cut.feedForward(new INDArray[] {x}, false, false);
        INDArray a = acts.get(layer);
        double objective = slice(a, filter).meanNumber().doubleValue();
        INDArray error = Nd4j.zeros(a.dataType(), a.shape());
        slice(error, filter).assign(1.0 / (a.length() / a.size(1)));
        GraphVertex[] vertices = cut.getVertices();
        int[] order = cut.topologicalSortOrder();
        Map<Integer, INDArray> errors = new HashMap<>();
        errors.put(cut.getVertex(layer).getVertexIndex(), error);
        LayerWorkspaceMgr noWorkspaces = LayerWorkspaceMgr.noWorkspaces();
        for (int i = order.length - 1; i >= 0; i--) {
            GraphVertex v = vertices[order[i]];
            INDArray e = errors.remove(v.getVertexIndex());
            if (e == null) {
                continue;
            }
            if (v.isInputVertex()) {
                // The error is d(objective)/d(activation), so what reaches the input is d(objective)/d(input).
                return new Gradient(objective, e.reshape(x.shape()).castTo(DataType.FLOAT));
            }
            v.setEpsilon(e);
            INDArray[] toInputs = v.doBackward(false, noWorkspaces).getSecond();
            VertexIndices[] inputs = v.getInputVertices();
            for (int k = 0; k < inputs.length; k++) {
                errors.merge(inputs[k].getVertexIndex(), toInputs[k].dup(), INDArray::add);
            }
        }
        throw new IllegalStateException("no gradient reached the input of the network cut at " + layer);
    }

    private static INDArray slice(INDArray a, int filter) {
        return a.rank() == 4
                ? a.get(NDArrayIndex.all(), NDArrayIndex.point(filter), NDArrayIndex.all(), NDArrayIndex.all())
                : a.get(NDArrayIndex.all(), NDArrayIndex.point(filter));
    }

    /** The normalised value of pixel value {@code pixel} per channel, as [1, C, 1, 1]. */
    private INDArray bound(double pixel) {
        INDArray b = Nd4j.valueArrayOf(new long[] {1, model.input().channels(), 1, 1}, pixel, DataType.FLOAT);
        return model.normalization().apply(b);
    }

    /** Each channel's values limited to [lo, hi] of that channel. */
    private static INDArray clamp(INDArray x, INDArray lo, INDArray hi) {
        long[] shape = x.shape();
        int plane = (int) (shape[2] * shape[3]);
        float[] v = x.dup('c').data().asFloat();
        float[] l = lo.data().asFloat(), u = hi.data().asFloat();
        for (int i = 0; i < v.length; i++) {
            int ch = i / plane;
            v[i] = Math.max(l[ch], Math.min(u[ch], v[i]));
        }
        return Nd4j.create(v, shape, 'c');
    }

    /** A 3x3 binomial blur of each channel, edges repeated. */
    private static INDArray blur(INDArray x) {
        long[] shape = x.shape();
        int c = (int) shape[1], h = (int) shape[2], w = (int) shape[3];
        float[] v = x.dup('c').data().asFloat();
        float[] out = new float[v.length];
        float[] k = {0.25f, 0.5f, 0.25f};
        for (int ch = 0; ch < c; ch++) {
            int o = ch * h * w;
            for (int y = 0; y < h; y++) {
                for (int xx = 0; xx < w; xx++) {
                    float sum = 0;
                    for (int dy = -1; dy <= 1; dy++) {
                        for (int dx = -1; dx <= 1; dx++) {
                            int yy = Math.min(h - 1, Math.max(0, y + dy));
                            int xs = Math.min(w - 1, Math.max(0, xx + dx));
                            sum += k[dy + 1] * k[dx + 1] * v[o + yy * w + xs];
                        }
                    }
                    out[o + y * w + xx] = sum;
                }
            }
        }
        return Nd4j.create(out, shape, 'c');
    }

    /**
     * Batch norm at inference is a fixed affine map per channel, {@code gamma (x - mean) / std + beta}. DL4J's batch
     * norm can only run backwards after a training-mode forward pass (batch statistics, which for one image are not
     * what the network computes), so in the cut network it becomes the same map as a 1x1 depthwise convolution.
     */
    private static LayerVertex asDepthwise(LayerVertex lv, BatchNormalization bn) {
        NeuralNetConfiguration layerConf = lv.getLayerConf().clone();
        DepthwiseConvolution2D affine = new DepthwiseConvolution2D.Builder(1, 1).nIn(bn.getNOut()).nOut(bn.getNOut())
                .depthMultiplier(1).stride(1, 1).padding(0, 0).convolutionMode(ConvolutionMode.Truncate).hasBias(true)
                .activation(bn.getActivationFn()).weightInit(WeightInit.ONES).build();
        affine.setLayerName(bn.getLayerName());
        layerConf.setLayer(affine);
        return new LayerVertex(layerConf, lv.getPreProcessor());
    }

    private static void copyBatchNorm(Layer from, Layer to) {
        BatchNormalization bn = (BatchNormalization) from.conf().getLayer();
        Map<String, INDArray> p = from.paramTable();
        long c = bn.getNOut();
        INDArray mean = p.get(BatchNormalizationParamInitializer.GLOBAL_MEAN).reshape(c);
        INDArray std = p.containsKey(BatchNormalizationParamInitializer.GLOBAL_LOG_STD)
                ? Transforms.pow(Nd4j.scalar(mean.dataType(), 10.0).broadcast(c),
                        p.get(BatchNormalizationParamInitializer.GLOBAL_LOG_STD).reshape(c))
                : Transforms.sqrt(p.get(BatchNormalizationParamInitializer.GLOBAL_VAR).reshape(c).add(bn.getEps()));
        INDArray gamma = p.containsKey(BatchNormalizationParamInitializer.GAMMA)
                ? p.get(BatchNormalizationParamInitializer.GAMMA).reshape(c)
                : Nd4j.valueArrayOf(new long[] {c}, bn.getGamma(), mean.dataType());
        INDArray beta = p.containsKey(BatchNormalizationParamInitializer.BETA)
                ? p.get(BatchNormalizationParamInitializer.BETA).reshape(c)
                : Nd4j.valueArrayOf(new long[] {c}, bn.getBeta(), mean.dataType());
        INDArray scale = gamma.div(std);
        INDArray w = to.getParam(DepthwiseConvolutionParamInitializer.WEIGHT_KEY);
        INDArray b = to.getParam(DepthwiseConvolutionParamInitializer.BIAS_KEY);
        w.assign(scale.reshape(w.shape()));
        b.assign(beta.sub(mean.mul(scale)).reshape(b.shape()));
    }

    /**
     * A copy of {@code net} that ends at {@code layer}: only the vertices the layer depends on, the same weights, no
     * workspaces (so that the input's gradient outlives the backward pass).
     */
    static ComputationGraph cutAfter(ComputationGraph net, String layer) {
        ComputationGraphConfiguration conf = net.getConfiguration().clone();
        Set<String> keep = new LinkedHashSet<>();
        Deque<String> todo = new ArrayDeque<>(List.of(layer));
        while (!todo.isEmpty()) {
            String v = todo.pop();
            if (keep.add(v)) {
                todo.addAll(conf.getVertexInputs().getOrDefault(v, List.of()));
            }
        }
        conf.getVertices().keySet().retainAll(keep);
        conf.getVertexInputs().keySet().retainAll(keep);
        conf.setNetworkOutputs(List.of(layer));
        Set<String> batchNorms = new LinkedHashSet<>();
        for (String v : keep) {
            if (conf.getVertices().get(v) instanceof LayerVertex lv
                    && lv.getLayerConf().getLayer() instanceof BatchNormalization bn) {
                conf.getVertices().put(v, asDepthwise(lv, bn));
                batchNorms.add(v);
            }
        }
        conf.setTopologicalOrder(null);
        conf.setTopologicalOrderStr(null);
        conf.setTrainingWorkspaceMode(WorkspaceMode.NONE);
        conf.setInferenceWorkspaceMode(WorkspaceMode.NONE);
        ComputationGraph cut = new ComputationGraph(conf);
        cut.init();
        cut.initGradientsView(); // doBackward writes parameter gradients into these views
        for (String v : keep) {
            GraphVertex from = net.getVertex(v);
            if (batchNorms.contains(v)) {
                copyBatchNorm(from.getLayer(), cut.getVertex(v).getLayer());
            } else if (from.hasLayer() && from.getLayer().numParams() > 0) {
                cut.getVertex(v).getLayer().setParams(from.getLayer().params().dup());
            }
        }
        LayerHelpers.install(cut); // a new graph: DL4J's helpers again until this
        return cut;
    }
}
