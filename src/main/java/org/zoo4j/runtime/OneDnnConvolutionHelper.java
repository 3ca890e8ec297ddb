package org.zoo4j.runtime;

import java.lang.ref.WeakReference;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.dnnl.IntMemoryMap;
import org.bytedeco.dnnl.convolution_backward_data;
import org.bytedeco.dnnl.convolution_backward_weights;
import org.bytedeco.dnnl.convolution_forward;
import org.bytedeco.dnnl.memory;
import org.bytedeco.dnnl.primitive;
import org.bytedeco.dnnl.primitive_attr;
import org.bytedeco.dnnl.reorder;
import org.bytedeco.dnnl.stream;
import org.bytedeco.dnnl.global.dnnl;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer.AlgoMode;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer.BwdDataAlgo;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer.BwdFilterAlgo;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer.FwdAlgo;
import org.deeplearning4j.nn.gradient.DefaultGradient;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.layers.convolution.ConvolutionHelper;
import org.deeplearning4j.nn.params.ConvolutionParamInitializer;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.deeplearning4j.util.ConvolutionUtils;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.shape.Shape;

/**
 * A convolution helper that calls oneDNN itself (through the JavaCPP presets, {@link OneDnn}) instead of going through
 * libnd4j's {@code conv2d} and {@code conv2d_bp} ops. Installed by {@link LayerHelpers} on plain 2D convolution layers.
 *
 * <p>What it does differently from DL4J's oneDNN helper:
 * <ul>
 *   <li><b>Primitives made once per shape.</b> The forward, backward-data and backward-weights primitives (and the
 *       reorders around them) are created on the first call with a shape and kept (a few shapes per layer: the last
 *       batch of an epoch is smaller). libnd4j creates its primitive descriptors on every call.</li>
 *   <li><b>No unused work.</b> Backward data and backward weights (with the bias gradient, fused) are one primitive
 *       each; nothing else is computed (libnd4j's {@code deconv2d_bp}, which the direct route uses for the weight
 *       gradient, also computes a forward convolution nobody reads). Layers without bias get primitives without
 *       bias.</li>
 *   <li><b>The algorithm per shape</b> ({@link Variant#DEFAULT}): Winograd for all three passes of 3x3 stride-1
 *       convolutions with at least 32 channels in and out and an output of at least 4x4, direct otherwise. libnd4j
 *       asks for "auto", which gives Winograd for backward data only and also where it is slow (few channels).</li>
 *   <li><b>Layouts.</b> oneDNN chooses each tensor's layout ({@code format_tag::any}, blocked on AVX-512 and AVX2
 *       CPUs); the helper reorders from and to the NCHW arrays only where the chosen layout differs. The ND4J arrays
 *       themselves are handed to oneDNN by address where they are plain NCHW, with no copy; the blocked copies and
 *       the scratchpad live in per-thread buffers reused by every call ({@link OneDnn.Scratch}).</li>
 *   <li><b>Weights reordered once per step.</b> The forward pass reorders the weights into its layout and keeps them;
 *       the same training step's backward pass (or recomputed forward pass) uses that copy again where its layout is
 *       the same. "The same step" is proved as for the forward output below: the same weights array, and the output
 *       of the forward pass that reordered them still live in the workspace it was made in.</li>
 *   <li><b>The forward output stands in for the pre-activation in backprop</b> for identity and ReLU activations (as
 *       in {@link DirectConvolutionHelper}): DL4J's layer recomputes the forward pass before its backward pass.</li>
 * </ul>
 * Anything else (NHWC, other data types, dilation, causal padding, a shape oneDNN refuses) goes to
 * {@link DirectConvolutionHelper}, the route zoo4j used before. Not thread-safe per instance (a layer is used by one
 * thread at a time); the calls are synchronized anyway.
 */
final class OneDnnConvolutionHelper implements ConvolutionHelper {
    /** Shapes kept per layer; the least recently used beyond this are dropped. */
    private static final int MAX_PLANS = 4;

    private final DirectConvolutionHelper fallback;
    private final boolean reuseForwardOutput;
    private final boolean hasBias;
    private final Variant variant;
    private final Map<Key, Plan> plans = new LinkedHashMap<>(8, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Key, Plan> eldest) {
            return size() > MAX_PLANS;
        }
    };
    private final OneDnn.Address address = new OneDnn.Address();

    private WeakReference<INDArray> lastInput = new WeakReference<>(null);
    private WeakReference<INDArray> lastWeights = new WeakReference<>(null);
    private WeakReference<INDArray> lastOutput = new WeakReference<>(null);
    /** Whose weights the plan's forward-layout copy holds: the weights array and the output of that forward pass. */
    private Plan weightsPlan;
    private WeakReference<INDArray> weightsOf = new WeakReference<>(null);
    private WeakReference<INDArray> weightsStep = new WeakReference<>(null);

    private long forwardPasses;
    private long forwardReuses;
    private long backwardPasses;
    private long weightReorders;
    private long weightReuses;
    private long fallbackCalls;

    /**
     * @param dataType           the layer's data type
     * @param hasBias            whether the layer has a bias
     * @param reuseForwardOutput whether the layer's activation lets its forward output stand in for the
     *                           pre-activation in backprop (identity or ReLU)
     */
    OneDnnConvolutionHelper(DataType dataType, boolean hasBias, boolean reuseForwardOutput) {
        this(dataType, hasBias, reuseForwardOutput, Variant.DEFAULT);
    }

    OneDnnConvolutionHelper(DataType dataType, boolean hasBias, boolean reuseForwardOutput, Variant variant) {
        this.fallback = new DirectConvolutionHelper(dataType, reuseForwardOutput);
        this.hasBias = hasBias;
        this.reuseForwardOutput = reuseForwardOutput;
        this.variant = variant;
    }

    /** Forward passes computed by oneDNN here (not counting outputs handed back to backprop). */
    long forwardPasses() {
        return forwardPasses;
    }

    /** Forward outputs handed back to backprop instead of computed again. */
    long forwardReuses() {
        return forwardReuses;
    }

    /** Backward passes computed by oneDNN here. */
    long backwardPasses() {
        return backwardPasses;
    }

    /** Weight reorders into a primitive's layout, and reorders saved by reusing the forward pass's copy. */
    long weightReorders() {
        return weightReorders;
    }

    long weightReuses() {
        return weightReuses;
    }

    /** Calls passed to {@link DirectConvolutionHelper} because oneDNN is unavailable or the shape unsupported here. */
    long fallbackCalls() {
        return fallbackCalls;
    }

    /** The oneDNN implementations chosen for the shapes seen, e.g. "fwd brg:avx512_core, bwd-data jit:..." */
    synchronized String implementations() {
        StringBuilder s = new StringBuilder();
        for (var e : plans.entrySet()) {
            s.append(e.getKey()).append(": ").append(e.getValue().describe()).append('\n');
        }
        return s.toString();
    }

    @Override
    public boolean checkSupported() {
        return OneDnn.available();
    }

    @Override
    public Map<String, Long> helperMemoryUse() {
        long bytes = 0;
        synchronized (this) {
            for (Plan p : plans.values()) {
                bytes += p.ownedBytes();
            }
        }
        return Map.of("oneDnnForwardWeights", bytes);
    }

    @Override
    public INDArray activate(INDArray z, IActivation afn, boolean training) {
        return afn.getActivation(z, training);
    }

    @Override
    public synchronized INDArray preOutput(INDArray input, INDArray weights, INDArray bias, int[] kernel,
                                           int[] strides, int[] pad, AlgoMode mode, FwdAlgo fwdAlgo,
                                           ConvolutionMode convolutionMode, int[] dilation, CNN2DFormat format,
                                           LayerWorkspaceMgr workspaceMgr) {
        Plan plan = plan(input, weights, kernel, strides, pad, convolutionMode, dilation, format);
        if (plan == null) {
            fallbackCalls++;
            return fallback.preOutput(input, weights, bias, kernel, strides, pad, mode, fwdAlgo, convolutionMode,
                    dilation, format, workspaceMgr);
        }
        if (reuseForwardOutput) {
            INDArray previous = lastOutput.get();
            // Only an output still live in the workspace it was made in: that is the same training step. A detached
            // array could be from an earlier call whose input the caller has since overwritten in place.
            if (previous != null && lastInput.get() == input && lastWeights.get() == weights
                    && sameStep(previous)) {
                forwardReuses++;
                return previous;
            }
        }
        Key k = plan.key;
        INDArray x = plain(input, ArrayType.FF_WORKING_MEM, workspaceMgr);
        INDArray out = workspaceMgr.createUninitialized(ArrayType.ACTIVATIONS, DataType.FLOAT,
                new long[] {k.n, k.oc, k.oh, k.ow}, 'c');
        boolean weightsKept = weightsCurrent(plan, weights);
        INDArray w = weightsKept ? weights : plain(weights, ArrayType.FF_WORKING_MEM, workspaceMgr);
        INDArray b = hasBias ? plain(bias, ArrayType.FF_WORKING_MEM, workspaceMgr) : null;
        plan.forward(x, weightsKept ? null : w, b, out, address);
        forwardPasses++;
        if (weightsKept) {
            weightReuses++;
        } else if (plan.forwardWeightsReordered()) {
            weightReorders++;
            weightsPlan = plan;
            weightsOf = new WeakReference<>(weights);
            weightsStep = new WeakReference<>(out);
        }
        if (reuseForwardOutput) {
            lastInput = new WeakReference<>(input);
            lastWeights = new WeakReference<>(weights);
            lastOutput = new WeakReference<>(out);
        }
        return out;
    }

    @Override
    public synchronized Pair<Gradient, INDArray> backpropGradient(INDArray input, INDArray weights, INDArray bias,
                                                                  INDArray delta, int[] kernel, int[] strides,
                                                                  int[] pad, INDArray biasGradView,
                                                                  INDArray weightGradView, IActivation afn,
                                                                  AlgoMode mode, BwdFilterAlgo bwdFilterAlgo,
                                                                  BwdDataAlgo bwdDataAlgo,
                                                                  ConvolutionMode convolutionMode, int[] dilation,
                                                                  CNN2DFormat format,
                                                                  LayerWorkspaceMgr workspaceMgr) {
        forgetForwardOutput();
        Plan plan = plan(input, weights, kernel, strides, pad, convolutionMode, dilation, format);
        Key k = plan == null ? null : plan.key;
        if (plan == null || delta.dataType() != DataType.FLOAT || delta.rank() != 4 || delta.size(0) != k.n
                || delta.size(1) != k.oc || delta.size(2) != k.oh || delta.size(3) != k.ow
                || !plan.backwardAvailable()) {
            fallbackCalls++;
            // DL4J hands a helper of its own oneDNN kind no bias-gradient array for a layer without bias (and that
            // helper takes a non-null one to mean a bias); this helper is given a dummy one, kept from the fallback.
            return fallback.backpropGradient(input, weights, bias, delta, kernel, strides, pad,
                    hasBias ? biasGradView : null, weightGradView, afn, mode, bwdFilterAlgo, bwdDataAlgo,
                    convolutionMode, dilation, format, workspaceMgr);
        }
        INDArray x = plain(input, ArrayType.BP_WORKING_MEM, workspaceMgr);
        INDArray dy = plain(delta, ArrayType.BP_WORKING_MEM, workspaceMgr);
        boolean weightsKept = weightsCurrent(plan, weights) && plan.backwardDataSharesForwardWeights();
        INDArray w = weightsKept ? null : plain(weights, ArrayType.BP_WORKING_MEM, workspaceMgr);
        INDArray epsilon = workspaceMgr.createUninitialized(ArrayType.ACTIVATION_GRAD, DataType.FLOAT,
                input.shape(), 'c');
        INDArray dw = isPlain(weightGradView) ? weightGradView
                : workspaceMgr.createUninitialized(ArrayType.BP_WORKING_MEM, DataType.FLOAT, weights.shape(), 'c');
        INDArray db = !hasBias ? null : isPlain(biasGradView) ? biasGradView
                : workspaceMgr.createUninitialized(ArrayType.BP_WORKING_MEM, DataType.FLOAT, k.oc);
        plan.backward(x, w, dy, epsilon, dw, db, address);
        backwardPasses++;
        if (weightsKept) {
            weightReuses++;
        } else if (plan.backwardWeightsReordered()) {
            weightReorders++;
        }
        if (dw != weightGradView) {
            weightGradView.assign(dw);
        }
        if (db != null && db != biasGradView) {
            biasGradView.assign(db.reshape(biasGradView.shape()));
        }
        Gradient gradient = new DefaultGradient();
        if (hasBias) {
            gradient.setGradientFor(ConvolutionParamInitializer.BIAS_KEY, biasGradView);
        }
        gradient.setGradientFor(ConvolutionParamInitializer.WEIGHT_KEY, weightGradView, 'c');
        return new Pair<>(gradient, epsilon);
    }

    /** Drops the forward output kept for backprop (it belongs to a workspace this helper does not manage). */
    private void forgetForwardOutput() {
        lastInput = new WeakReference<>(null);
        lastWeights = new WeakReference<>(null);
        lastOutput = new WeakReference<>(null);
    }

    /** Whether the plan's forward-layout weights are this array's, reordered in this same training step. */
    private boolean weightsCurrent(Plan plan, INDArray weights) {
        return weightsPlan == plan && weightsOf.get() == weights && sameStep(weightsStep.get());
    }

    /** Whether an output of this helper is still live in the workspace (and workspace generation) it was made in. */
    private static boolean sameStep(INDArray output) {
        return DirectConvolutionHelper.liveInItsWorkspace(output);
    }

    private static boolean isPlain(INDArray a) {
        return a.ordering() == 'c' && Shape.hasDefaultStridesForShape(a) && a.dataType() == DataType.FLOAT
                && !a.isEmpty();
    }

    /** The array itself when it is a plain c-ordered float array, else a plain copy in working memory. */
    private static INDArray plain(INDArray a, ArrayType working, LayerWorkspaceMgr workspaceMgr) {
        if (isPlain(a)) {
            return a;
        }
        INDArray copy = workspaceMgr.createUninitialized(working, DataType.FLOAT, a.shape(), 'c');
        copy.assign(a);
        return copy;
    }

    /** The kept plan for this call's shape (made on first use), or null where this helper does not take the call. */
    private Plan plan(INDArray input, INDArray weights, int[] kernel, int[] strides, int[] pad,
                      ConvolutionMode convolutionMode, int[] dilation, CNN2DFormat format) {
        Key key = key(input, weights, kernel, strides, pad, convolutionMode, dilation, format, hasBias);
        if (key == null || !OneDnn.available()) {
            return null;
        }
        Plan plan = plans.get(key);
        if (plan == null) {
            plan = Plan.create(key, variant);
            plans.put(key, plan);
        }
        return plan.usable() ? plan : null;
    }

    /**
     * The shape of a convolution this helper takes: NCHW float input and weights, groups of one, no dilation,
     * Truncate, Strict or Same padding as DL4J computes it. Null otherwise.
     */
    static Key key(INDArray input, INDArray weights, int[] kernel, int[] strides, int[] pad,
                   ConvolutionMode convolutionMode, int[] dilation, CNN2DFormat format, boolean hasBias) {
        if (format != CNN2DFormat.NCHW || input.rank() != 4 || weights.rank() != 4
                || input.dataType() != DataType.FLOAT || weights.dataType() != DataType.FLOAT
                || dilation[0] != 1 || dilation[1] != 1 || weights.size(1) != input.size(1)
                || weights.size(2) != kernel[0] || weights.size(3) != kernel[1] || strides[0] < 1 || strides[1] < 1
                || input.length() == 0) {
            return null;
        }
        long h = input.size(2);
        long w = input.size(3);
        int[] out;
        int[] top;
        int[] bottom;
        if (convolutionMode == ConvolutionMode.Same) {
            out = ConvolutionUtils.getOutputSize(input, kernel, strides, null, convolutionMode, dilation, format);
            int[] in = {(int) h, (int) w};
            top = ConvolutionUtils.getSameModeTopLeftPadding(out, in, kernel, strides, dilation);
            bottom = ConvolutionUtils.getSameModeBottomRightPadding(out, in, kernel, strides, dilation);
        } else if (convolutionMode == ConvolutionMode.Truncate || convolutionMode == ConvolutionMode.Strict) {
            out = ConvolutionUtils.getOutputSize(input, kernel, strides, pad, convolutionMode, dilation, format);
            top = pad;
            bottom = pad;
        } else {
            return null;
        }
        long[] in = {h, w};
        for (int d = 0; d < 2; d++) {
            long span = in[d] - kernel[d] + top[d] + bottom[d];
            // oneDNN's rule for the output size; a shape where it would disagree with DL4J's is not taken
            if (top[d] < 0 || bottom[d] + strides[d] <= 0 || span < 0 || out[d] < 1
                    || span / strides[d] + 1 != out[d]) {
                return null;
            }
        }
        return new Key(input.size(0), input.size(1), h, w, weights.size(0), out[0], out[1], kernel[0], kernel[1],
                strides[0], strides[1], top[0], top[1], bottom[0], bottom[1], hasBias);
    }

    /** A convolution's shape: batch, channels, sizes, kernel, strides and padding (top, left, bottom, right). */
    record Key(long n, long ic, long ih, long iw, long oc, long oh, long ow, long kh, long kw, long sh, long sw,
               long pt, long pl, long pb, long pr, boolean bias) {
        @Override
        public String toString() {
            return n + "x" + ic + "x" + ih + "x" + iw + " -> " + oc + "x" + oh + "x" + ow + " k" + kh + "x" + kw
                    + " s" + sh + "x" + sw + " p" + pt + "," + pl + "," + pb + "," + pr + (bias ? " +bias" : "");
        }

        long[] src() {
            return new long[] {n, ic, ih, iw};
        }

        long[] dst() {
            return new long[] {n, oc, oh, ow};
        }

        long[] weights() {
            return new long[] {oc, ic, kh, kw};
        }

        long[] strides() {
            return new long[] {sh, sw};
        }

        long[] padL() {
            return new long[] {pt, pl};
        }

        long[] padR() {
            return new long[] {pb, pr};
        }
    }

    /**
     * How the primitives are asked for: the activations' layout ({@code any}: oneDNN's choice, or a fixed tag such as
     * {@code nhwc} or {@code nchw}) and which passes may use Winograd (where oneDNN refuses it, direct). The default
     * is what was measured fastest (training/benchmarks/README.md); the others are kept for that measurement.
     */
    record Variant(String name, memory.format_tag activations, boolean winogradForward, boolean winogradData,
                   boolean winogradWeights, boolean winogradByRule) {
        /**
         * oneDNN's choice of layout; Winograd for all three passes of 3x3 stride-1 convolutions with at least
         * {@value #WINOGRAD_MIN_CHANNELS} input and output channels and an output of at least {@value
         * #WINOGRAD_MIN_SIDE}x{@value #WINOGRAD_MIN_SIDE}, direct otherwise. Measured per shape on a 2-core AVX-512
         * CPU: Winograd took 0.5x to 0.7x the direct time on VGG16-BN's 64- to 512-channel layers from 32x32 down to
         * 4x4 and on ResNet-20's 32- and 64-channel ones, but 1.9x at 2x2 (its 4x4 output tiles are mostly padding
         * there) and 1.2x to 4x with 1 or 16 input channels (its transforms outweigh the saved products).
         */
        static final Variant DEFAULT = new Variant("onednn", memory.format_tag.any, true, true, true, true);

        /**
         * The variants the benchmark knows by name: onednn (the default), onednn-direct (never Winograd), onednn-wino
         * (Winograd wherever oneDNN takes it), onednn-wino-data (there, for backward data only), onednn-nhwc and
         * onednn-nchw (activations in that layout instead of oneDNN's choice, direct).
         */
        static Variant named(String name) {
            return switch (name) {
                case "onednn" -> DEFAULT;
                case "onednn-direct" -> new Variant(name, memory.format_tag.any, false, false, false, false);
                case "onednn-wino" -> new Variant(name, memory.format_tag.any, true, true, true, false);
                case "onednn-wino-data" -> new Variant(name, memory.format_tag.any, false, true, false, false);
                case "onednn-nhwc" -> new Variant(name, memory.format_tag.nhwc, false, false, false, false);
                case "onednn-nchw" -> new Variant(name, memory.format_tag.nchw, false, false, false, false);
                default -> throw new IllegalArgumentException("no oneDNN variant " + name);
            };
        }

        static final long WINOGRAD_MIN_CHANNELS = 32;
        static final long WINOGRAD_MIN_SIDE = 4;

        dnnl.algorithm forward(Key k) {
            return algorithm(winogradForward, k);
        }

        dnnl.algorithm backwardData(Key k) {
            return algorithm(winogradData, k);
        }

        dnnl.algorithm backwardWeights(Key k) {
            return algorithm(winogradWeights, k);
        }

        private dnnl.algorithm algorithm(boolean winograd, Key k) {
            // 3x3 stride 1: the only shapes oneDNN's CPU Winograd takes
            boolean shape = k.kh == 3 && k.kw == 3 && k.sh == 1 && k.sw == 1;
            boolean rule = !winogradByRule || (k.ic >= WINOGRAD_MIN_CHANNELS && k.oc >= WINOGRAD_MIN_CHANNELS
                    && k.oh >= WINOGRAD_MIN_SIDE && k.ow >= WINOGRAD_MIN_SIDE);
            return winograd && shape && rule ? dnnl.algorithm.convolution_winograd : dnnl.algorithm.convolution_direct;
        }
    }

    /**
     * Time spent per kind of primitive, in nanoseconds, when {@link #PROFILE} is on (for the benchmarks only; off, it
     * costs a field read per primitive): activation reorders, weight reorders, and the convolution passes.
     */
    static final class Profile {
        static volatile boolean on;
        static final long[] NANOS = new long[Part.values().length];

        enum Part { ACTIVATION_REORDERS, WEIGHT_REORDERS, FORWARD, BACKWARD_DATA, BACKWARD_WEIGHTS }

        static long start() {
            return on ? System.nanoTime() : 0;
        }

        static void add(Part part, long start) {
            if (on) {
                NANOS[part.ordinal()] += System.nanoTime() - start;
            }
        }

        static void reset() {
            java.util.Arrays.fill(NANOS, 0);
        }
    }

    /**
     * One tensor argument of a primitive: the user's plain array and, where the primitive's layout differs, a copy in
     * that layout in a per-thread scratch buffer, with the reorders between them.
     */
    static final class Arg {
        final memory user;
        final memory inner;
        final reorder toInner;
        final reorder toUser;
        final OneDnn.Slot slot;
        final long innerBytes;

        Arg(memory.desc userDesc, memory.desc innerDesc, OneDnn.Slot slot, boolean read, boolean written) {
            this.user = OneDnn.unbound(userDesc);
            boolean same = innerDesc.equals(userDesc);
            this.inner = same ? user : OneDnn.unbound(innerDesc);
            this.toInner = same || !read ? null : new reorder(user, inner);
            this.toUser = same || !written ? null : new reorder(inner, user);
            this.slot = slot;
            this.innerBytes = innerDesc.get_size();
        }

        boolean reordered() {
            return inner != user;
        }

        /** Binds the user's array and the scratch buffer, and reorders the array in if it is read. */
        void bind(long userAddress, OneDnn.Address address, OneDnn.Scratch scratch, stream s) {
            user.set_data_handle(address.at(userAddress));
            if (inner != user) {
                inner.set_data_handle(address.at(scratch.buffer(slot, innerBytes)));
                if (toInner != null) {
                    long t = Profile.start();
                    toInner.execute(s, user, inner);
                    Profile.add(slot == OneDnn.Slot.WEIGHTS ? Profile.Part.WEIGHT_REORDERS
                            : Profile.Part.ACTIVATION_REORDERS, t);
                }
            }
        }

        /** Reorders the result back into the user's array, if it is written in another layout. */
        void writeBack(stream s) {
            if (toUser != null) {
                long t = Profile.start();
                toUser.execute(s, inner, user);
                Profile.add(slot == OneDnn.Slot.DIFF_WEIGHTS ? Profile.Part.WEIGHT_REORDERS
                        : Profile.Part.ACTIVATION_REORDERS, t);
            }
        }
    }

    /** The primitives for one shape, made once, and the memory objects they run on (buffers bound per call). */
    static final class Plan {
        final Key key;
        private final Variant variant;
        private final String failure;
        private final convolution_forward.primitive_desc fwdPd;
        private final primitive fwd;
        private final Arg src;
        private final Arg dst;
        private final memory weightsUser;
        private final memory weightsFwd; // owned, in the forward layout; == weightsUser when that is plain
        private final reorder weightsToFwd;
        private final memory biasUser;
        private final memory fwdScratch;
        private final IntMemoryMap fwdArgs = new IntMemoryMap();
        private boolean lastForwardReordered;
        private Backward bwd;
        private String bwdFailure;

        private Plan(Key key, Variant variant, String failure, convolution_forward.primitive_desc fwdPd) {
            this.key = key;
            this.variant = variant;
            this.failure = failure;
            this.fwdPd = fwdPd;
            if (fwdPd == null) {
                fwd = null;
                src = dst = null;
                weightsUser = weightsFwd = biasUser = fwdScratch = null;
                weightsToFwd = null;
                return;
            }
            fwd = new convolution_forward(fwdPd);
            src = new Arg(plainDesc(key.src(), memory.format_tag.nchw), fwdPd.src_desc(), OneDnn.Slot.SRC, true,
                    false);
            dst = new Arg(plainDesc(key.dst(), memory.format_tag.nchw), fwdPd.dst_desc(), OneDnn.Slot.DST, false,
                    true);
            memory.desc wPlain = plainDesc(key.weights(), memory.format_tag.oihw);
            weightsUser = OneDnn.unbound(wPlain);
            boolean sameWeights = fwdPd.weights_desc().equals(wPlain);
            weightsFwd = sameWeights ? weightsUser : new memory(fwdPd.weights_desc(), OneDnn.engine());
            weightsToFwd = sameWeights ? null : new reorder(weightsUser, weightsFwd);
            biasUser = key.bias ? OneDnn.unbound(plainDesc(new long[] {key.oc}, memory.format_tag.x)) : null;
            fwdScratch = scratchpad(fwdPd.scratchpad_desc());
            fwdArgs.put(dnnl.DNNL_ARG_SRC, src.inner);
            fwdArgs.put(dnnl.DNNL_ARG_WEIGHTS, weightsFwd);
            if (key.bias) {
                fwdArgs.put(dnnl.DNNL_ARG_BIAS, biasUser);
            }
            fwdArgs.put(dnnl.DNNL_ARG_DST, dst.inner);
            if (fwdScratch != null) {
                fwdArgs.put(dnnl.DNNL_ARG_SCRATCHPAD, fwdScratch);
            }
        }

        static Plan create(Key key, Variant variant) {
            try {
                return new Plan(key, variant, null, forwardDesc(key, variant, variant.forward(key)));
            } catch (RuntimeException e) {
                return new Plan(key, variant, e.getMessage(), null);
            }
        }

        private static convolution_forward.primitive_desc forwardDesc(Key k, Variant v, dnnl.algorithm algorithm) {
            memory.desc srcAny = activationDesc(k.src(), v);
            memory.desc wAny = anyDesc(k.weights());
            memory.desc dstAny = activationDesc(k.dst(), v);
            convolution_forward.desc d = k.bias
                    ? new convolution_forward.desc(dnnl.prop_kind.forward_training, algorithm, srcAny, wAny,
                    plainDesc(new long[] {k.oc}, memory.format_tag.x), dstAny, k.strides(), k.padL(), k.padR())
                    : new convolution_forward.desc(dnnl.prop_kind.forward_training, algorithm, srcAny, wAny, dstAny,
                    k.strides(), k.padL(), k.padR());
            try {
                return new convolution_forward.primitive_desc(d, userScratchpad(), OneDnn.engine());
            } catch (RuntimeException e) {
                if (algorithm == dnnl.algorithm.convolution_direct) {
                    throw e;
                }
                return forwardDesc(k, v, dnnl.algorithm.convolution_direct);
            }
        }

        boolean usable() {
            return failure == null;
        }

        boolean backwardAvailable() {
            if (bwd == null && bwdFailure == null) {
                try {
                    bwd = new Backward(this);
                } catch (RuntimeException e) {
                    bwdFailure = e.getMessage() == null ? e.toString() : e.getMessage();
                }
            }
            return bwd != null;
        }

        boolean forwardWeightsReordered() {
            return lastForwardReordered;
        }

        boolean backwardDataSharesForwardWeights() {
            return backwardAvailable() && bwd.weightsFromForward;
        }

        boolean backwardWeightsReordered() {
            return bwd != null && bwd.weights.reordered();
        }

        long ownedBytes() {
            return weightsFwd != null && weightsFwd != weightsUser ? fwdPd.weights_desc().get_size() : 0;
        }

        String describe() {
            if (failure != null) {
                return "not supported by oneDNN here: " + failure;
            }
            String s = "forward " + fwdPd.impl_info_str().getString() + (src.reordered() ? " (src reordered)" : "")
                    + (dst.reordered() ? " (dst reordered)" : "");
            if (bwd != null) {
                s += "; backward data " + bwd.dataPd.impl_info_str().getString() + ", backward weights "
                        + bwd.weightsPd.impl_info_str().getString()
                        + (bwd.weightsFromForward ? "; weights layout shared with forward" : "");
            } else if (bwdFailure != null) {
                s += "; backward not supported: " + bwdFailure;
            }
            return s;
        }

        /**
         * dst = conv(x, w) + b. A null {@code w} means the forward-layout weights from earlier in this step are
         * current.
         */
        void forward(INDArray x, INDArray w, INDArray b, INDArray out, OneDnn.Address address) {
            stream s = OneDnn.stream();
            OneDnn.Scratch scratch = OneDnn.scratch();
            src.bind(OneDnn.address(x), address, scratch, s);
            lastForwardReordered = false;
            if (w != null) {
                weightsUser.set_data_handle(address.at(OneDnn.address(w)));
                if (weightsToFwd != null) {
                    long t = Profile.start();
                    weightsToFwd.execute(s, weightsUser, weightsFwd);
                    Profile.add(Profile.Part.WEIGHT_REORDERS, t);
                    lastForwardReordered = true;
                }
            }
            if (b != null) {
                biasUser.set_data_handle(address.at(OneDnn.address(b)));
            }
            dst.bind(OneDnn.address(out), address, scratch, s);
            if (fwdScratch != null) {
                fwdScratch.set_data_handle(address.at(scratch.buffer(OneDnn.Slot.SCRATCHPAD,
                        fwdScratch.get_desc().get_size())));
            }
            long t = Profile.start();
            fwd.execute(s, fwdArgs);
            Profile.add(Profile.Part.FORWARD, t);
            dst.writeBack(s);
            s._wait();
        }

        /**
         * dx, dw and db (null without bias) from x, w and dy. A null {@code w} means the forward-layout weights from
         * earlier in this step are current and the backward-data primitive takes that layout.
         */
        void backward(INDArray x, INDArray w, INDArray dy, INDArray dx, INDArray dw, INDArray db,
                      OneDnn.Address address) {
            Backward b = bwd;
            stream s = OneDnn.stream();
            OneDnn.Scratch scratch = OneDnn.scratch();
            // weights gradient (and bias gradient) first
            b.diffDstData.bind(OneDnn.address(dy), address, scratch, s);
            if (b.diffDstWeights != null) {
                b.diffDstWeights.bind(OneDnn.address(dy), address, scratch, s);
            }
            b.srcWeights.bind(OneDnn.address(x), address, scratch, s);
            b.diffWeights.bind(OneDnn.address(dw), address, scratch, s);
            if (db != null) {
                b.diffBias.set_data_handle(address.at(OneDnn.address(db)));
            }
            if (b.weightsScratch != null) {
                b.weightsScratch.set_data_handle(address.at(scratch.buffer(OneDnn.Slot.SCRATCHPAD,
                        b.weightsScratch.get_desc().get_size())));
            }
            long t = Profile.start();
            b.weightsPrimitive.execute(s, b.weightsArgs);
            Profile.add(Profile.Part.BACKWARD_WEIGHTS, t);
            b.diffWeights.writeBack(s);
            // then the input gradient
            if (w != null) {
                b.weights.bind(OneDnn.address(w), address, scratch, s);
                b.dataArgs.put(dnnl.DNNL_ARG_WEIGHTS, b.weights.inner);
            } else {
                b.dataArgs.put(dnnl.DNNL_ARG_WEIGHTS, weightsFwd);
            }
            b.diffSrc.bind(OneDnn.address(dx), address, scratch, s);
            if (b.dataScratch != null) {
                b.dataScratch.set_data_handle(address.at(scratch.buffer(OneDnn.Slot.SCRATCHPAD,
                        b.dataScratch.get_desc().get_size())));
            }
            t = Profile.start();
            b.dataPrimitive.execute(s, b.dataArgs);
            Profile.add(Profile.Part.BACKWARD_DATA, t);
            b.diffSrc.writeBack(s);
            s._wait();
        }

        /** The backward-data and backward-weights primitives of a plan, made on its first backward pass. */
        private static final class Backward {
            final convolution_backward_data.primitive_desc dataPd;
            final convolution_backward_weights.primitive_desc weightsPd;
            final primitive dataPrimitive;
            final primitive weightsPrimitive;
            final Arg diffDstData;
            final Arg diffDstWeights; // null where backward weights takes the same layout as backward data
            final Arg srcWeights;
            final Arg weights;
            final Arg diffSrc;
            final Arg diffWeights;
            final memory diffBias;
            final memory dataScratch;
            final memory weightsScratch;
            final boolean weightsFromForward;
            final IntMemoryMap dataArgs = new IntMemoryMap();
            final IntMemoryMap weightsArgs = new IntMemoryMap();

            Backward(Plan p) {
                Key k = p.key;
                dataPd = dataDesc(k, p.variant, p.fwdPd, p.variant.backwardData(k));
                weightsPd = weightsDesc(k, p.variant, p.fwdPd, p.variant.backwardWeights(k));
                dataPrimitive = new convolution_backward_data(dataPd);
                weightsPrimitive = new convolution_backward_weights(weightsPd);
                memory.desc srcPlain = plainDesc(k.src(), memory.format_tag.nchw);
                memory.desc dstPlain = plainDesc(k.dst(), memory.format_tag.nchw);
                memory.desc wPlain = plainDesc(k.weights(), memory.format_tag.oihw);
                diffDstData = new Arg(dstPlain, dataPd.diff_dst_desc(), OneDnn.Slot.DIFF_DST, true, false);
                diffDstWeights = weightsPd.diff_dst_desc().equals(dataPd.diff_dst_desc()) ? null
                        : new Arg(dstPlain, weightsPd.diff_dst_desc(), OneDnn.Slot.DIFF_DST_WEIGHTS, true, false);
                srcWeights = new Arg(srcPlain, weightsPd.src_desc(), OneDnn.Slot.SRC, true, false);
                weights = new Arg(wPlain, dataPd.weights_desc(), OneDnn.Slot.WEIGHTS, true, false);
                diffSrc = new Arg(srcPlain, dataPd.diff_src_desc(), OneDnn.Slot.DIFF_SRC, false, true);
                diffWeights = new Arg(wPlain, weightsPd.diff_weights_desc(), OneDnn.Slot.DIFF_WEIGHTS, false, true);
                diffBias = k.bias ? OneDnn.unbound(plainDesc(new long[] {k.oc}, memory.format_tag.x)) : null;
                dataScratch = scratchpad(dataPd.scratchpad_desc());
                weightsScratch = scratchpad(weightsPd.scratchpad_desc());
                weightsFromForward = p.weightsFwd != p.weightsUser && dataPd.weights_desc().equals(p.fwdPd.weights_desc());

                dataArgs.put(dnnl.DNNL_ARG_DIFF_DST, diffDstData.inner);
                dataArgs.put(dnnl.DNNL_ARG_WEIGHTS, weights.inner);
                dataArgs.put(dnnl.DNNL_ARG_DIFF_SRC, diffSrc.inner);
                if (dataScratch != null) {
                    dataArgs.put(dnnl.DNNL_ARG_SCRATCHPAD, dataScratch);
                }
                weightsArgs.put(dnnl.DNNL_ARG_SRC, srcWeights.inner);
                weightsArgs.put(dnnl.DNNL_ARG_DIFF_DST, diffDstWeights == null ? diffDstData.inner
                        : diffDstWeights.inner);
                weightsArgs.put(dnnl.DNNL_ARG_DIFF_WEIGHTS, diffWeights.inner);
                if (k.bias) {
                    weightsArgs.put(dnnl.DNNL_ARG_DIFF_BIAS, diffBias);
                }
                if (weightsScratch != null) {
                    weightsArgs.put(dnnl.DNNL_ARG_SCRATCHPAD, weightsScratch);
                }
            }

            private static convolution_backward_data.primitive_desc dataDesc(
                    Key k, Variant v, convolution_forward.primitive_desc hint, dnnl.algorithm algorithm) {
                var d = new convolution_backward_data.desc(algorithm, activationDesc(k.src(), v),
                        anyDesc(k.weights()), activationDesc(k.dst(), v), k.strides(), k.padL(), k.padR());
                try {
                    return new convolution_backward_data.primitive_desc(d, userScratchpad(), OneDnn.engine(), hint);
                } catch (RuntimeException e) {
                    if (algorithm == dnnl.algorithm.convolution_direct) {
                        throw e;
                    }
                    return dataDesc(k, v, hint, dnnl.algorithm.convolution_direct);
                }
            }

            private static convolution_backward_weights.primitive_desc weightsDesc(
                    Key k, Variant v, convolution_forward.primitive_desc hint, dnnl.algorithm algorithm) {
                memory.desc src = activationDesc(k.src(), v);
                memory.desc dst = activationDesc(k.dst(), v);
                var d = k.bias
                        ? new convolution_backward_weights.desc(algorithm, src, anyDesc(k.weights()),
                        plainDesc(new long[] {k.oc}, memory.format_tag.x), dst, k.strides(), k.padL(), k.padR())
                        : new convolution_backward_weights.desc(algorithm, src, anyDesc(k.weights()), dst,
                        k.strides(), k.padL(), k.padR());
                try {
                    return new convolution_backward_weights.primitive_desc(d, userScratchpad(), OneDnn.engine(),
                            hint);
                } catch (RuntimeException e) {
                    if (algorithm == dnnl.algorithm.convolution_direct) {
                        throw e;
                    }
                    return weightsDesc(k, v, hint, dnnl.algorithm.convolution_direct);
                }
            }
        }
    }

    private static memory.desc activationDesc(long[] dims, Variant v) {
        return new memory.desc(dims, memory.data_type.f32, v.activations());
    }

    private static memory.desc anyDesc(long[] dims) {
        return new memory.desc(dims, memory.data_type.f32, memory.format_tag.any);
    }

    private static memory.desc plainDesc(long[] dims, memory.format_tag tag) {
        return new memory.desc(dims, memory.data_type.f32, tag);
    }

    private static primitive_attr userScratchpad() {
        primitive_attr attr = new primitive_attr();
        attr.set_scratchpad_mode(dnnl.scratchpad_mode.user);
        return attr;
    }

    private static memory scratchpad(memory.desc desc) {
        return desc.get_size() == 0 ? null : OneDnn.unbound(desc);
    }
}
