package org.zoo4j.runtime;

import java.lang.ref.WeakReference;
import java.util.Map;
import org.bytedeco.dnnl.memory;
import org.bytedeco.dnnl.primitive;
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
 *   <li><b>The algorithm per shape</b> ({@link ConvolutionVariant#DEFAULT}): Winograd for all three passes of 3x3 stride-1
 *       convolutions with at least 32 channels in and out and an output of at least 4x4, direct otherwise. libnd4j
 *       asks for "auto", which gives Winograd for backward data only and also where it is slow (few channels).</li>
 *   <li><b>Layouts.</b> oneDNN chooses each tensor's layout ({@code format_tag::any}, blocked on AVX-512 and AVX2
 *       CPUs); the helper reorders from and to the NCHW arrays only where the chosen layout differs. The ND4J arrays
 *       themselves are handed to oneDNN by address where they are plain NCHW, with no copy; the blocked copies and
 *       the scratchpad live in per-thread buffers reused by every call ({@link OneDnn.Scratch}). Linked to the
 *       batch norm that is its only reader ({@link OneDnn.Link}), the layer leaves its blocked result for it and
 *       takes the blocked output gradient back from it, without those two reorders; in a graph trained with
 *       {@code fit} both are written in the blocked layout into DL4J's arrays themselves, in place of NCHW. Bridged
 *       from a batch norm through a plain ReLU ({@link OneDnn.Bridge}), in such a graph, the layer reads its input
 *       and writes its input gradient in the blocked layout in place too.</li>
 *   <li><b>Weights reordered once per step.</b> The forward pass reorders the weights into its layout and keeps them;
 *       the same training step's backward pass (or recomputed forward pass) uses that copy again where its layout is
 *       the same. "The same step" is proved as for the forward output below: the same weights array, and the output
 *       of the forward pass that reordered them still live in the workspace it was made in.</li>
 *   <li><b>The forward output stands in for the pre-activation in backprop</b> for identity and ReLU activations (as
 *       in {@link DirectConvolutionHelper}): DL4J's layer recomputes the forward pass before its backward pass.</li>
 * </ul>
 * Anything else (NHWC, other data types, dilation, causal padding, a shape oneDNN refuses) goes to
 * {@link DirectConvolutionHelper}, the route zoo4j used before.
 *
 * <p>A helper made by {@link #forInference} serves a convolution of an inference copy ({@link InferenceCopy}), whose
 * weights do not change: it reorders them into the forward layout once and keeps them for every later call (not once
 * per step), and has no backward pass. Where the layer's activation is a plain ReLU, the forward primitive applies it
 * (a oneDNN post-op, while the output is still in cache) and {@link #activate} returns that output as it is: the
 * separate pass over the output is gone. {@link #preOutput} then returns the activation, not the pre-activation,
 * which nothing of an inference copy reads. Not thread-safe per instance (a layer is used by one
 * thread at a time); the calls are synchronized anyway.
 */
final class OneDnnConvolutionHelper implements ConvolutionHelper {
    private final DirectConvolutionHelper fallback;
    private final boolean reuseForwardOutput;
    private final boolean hasBias;
    private final ConvolutionVariant variant;
    private final boolean inferenceOnly;
    /** Whether the forward pass applies the layer's ReLU itself (inference helpers of plain-ReLU layers only). */
    private final boolean reluAfter;
    private final Map<ConvolutionShape, ConvolutionPlan> plans = OneDnn.plans();
    private final OneDnn.Address address = new OneDnn.Address();

    private WeakReference<INDArray> lastInput = new WeakReference<>(null);
    private WeakReference<INDArray> lastWeights = new WeakReference<>(null);
    private WeakReference<INDArray> lastOutput = new WeakReference<>(null);
    /** The last output the forward primitive applied the ReLU to: {@link #activate} returns it as it is. */
    private WeakReference<INDArray> lastActivated = new WeakReference<>(null);
    /** Whose weights the plan's forward-layout copy holds: the weights array and the output of that forward pass. */
    private ConvolutionPlan weightsPlan;
    private WeakReference<INDArray> weightsOf = new WeakReference<>(null);
    private WeakReference<INDArray> weightsStep = new WeakReference<>(null);

    private long forwardPasses;
    private long fusedActivations;
    private long forwardReuses;
    private long backwardPasses;
    private long weightReorders;
    private long weightReuses;
    private long fallbackCalls;
    private long skippedInputGradients;
    /**
     * Whether backprop computes the gradient with respect to the layer's input. Not where the input is the network's
     * own and nothing reads its gradient (training a graph): there it is the whole backward-data pass, which on a
     * 1-channel first layer is most of the layer's time (LeNet-5: 80%).
     */
    private volatile boolean inputGradient = true;
    /**
     * The batch norm that is this layer's only reader, where {@link LayerHelpers#install} linked them: the forward
     * result goes to it, and its input gradient comes back, in oneDNN's blocked layout ({@link OneDnn.Link}).
     */
    private OneDnn.Link link;
    private long handedGradients;
    /**
     * The batch norm that reaches this layer through a plain ReLU, where {@link LayerHelpers#installForTraining}
     * bridged them: in a training step this layer's input and input gradient may hold oneDNN's blocked layout in place
     * ({@link OneDnn.Bridge}).
     */
    private OneDnn.Bridge bridge;
    /** The layout the last forward pass read its input in, in place, and that input's address; null: NCHW. */
    private memory.desc inputInPlace;
    private long inputInPlaceAt;

    /**
     * @param dataType           the layer's data type
     * @param hasBias            whether the layer has a bias
     * @param reuseForwardOutput whether the layer's activation lets its forward output stand in for the
     *                           pre-activation in backprop (identity or ReLU)
     */
    OneDnnConvolutionHelper(DataType dataType, boolean hasBias, boolean reuseForwardOutput) {
        this(dataType, hasBias, reuseForwardOutput, ConvolutionVariant.DEFAULT);
    }

    OneDnnConvolutionHelper(DataType dataType, boolean hasBias, boolean reuseForwardOutput, ConvolutionVariant variant) {
        this(dataType, hasBias, reuseForwardOutput, variant, false, false);
    }

    private OneDnnConvolutionHelper(DataType dataType, boolean hasBias, boolean reuseForwardOutput,
                                    ConvolutionVariant variant, boolean inferenceOnly, boolean reluAfter) {
        this.fallback = new DirectConvolutionHelper(dataType, reuseForwardOutput);
        this.hasBias = hasBias;
        this.reuseForwardOutput = reuseForwardOutput;
        this.variant = variant;
        this.inferenceOnly = inferenceOnly;
        this.reluAfter = reluAfter;
    }

    /**
     * A helper for a convolution run for inference only, with weights that do not change; {@code plainRelu}: the
     * layer's activation is a plain ReLU, which the forward pass then applies (see the class comment).
     */
    static OneDnnConvolutionHelper forInference(DataType dataType, boolean hasBias, boolean plainRelu) {
        return new OneDnnConvolutionHelper(dataType, hasBias, false, ConvolutionVariant.DEFAULT, true, plainRelu);
    }

    /** Whether this helper serves inference only (see {@link #forInference}). */
    boolean inferenceOnly() {
        return inferenceOnly;
    }

    /** Hands this layer's results to, and takes its gradients from, the batch norm at the other end of {@code l}. */
    synchronized void link(OneDnn.Link l) {
        link = l;
    }

    synchronized OneDnn.Link link() {
        return link;
    }

    /** Takes this layer's input from, and hands its input gradient to, the batch norm at the other end of {@code b}. */
    synchronized void bridge(OneDnn.Bridge b) {
        bridge = b;
    }

    synchronized OneDnn.Bridge bridge() {
        return bridge;
    }

    /** Backward passes whose output gradient came in the blocked layout from the linked batch norm. */
    synchronized long handedGradients() {
        return handedGradients;
    }

    /** On a linked layer's other path: what the batch norm handed on is not for this call, nor for a later one. */
    private void dropHandedResult() {
        if (link != null) {
            OneDnn.scratch().drop();
        }
    }

    /** Backprop returns no gradient with respect to the input from now on (see {@link LayerHelpers#installForTraining}). */
    void skipInputGradient() {
        inputGradient = false;
    }

    boolean computesInputGradient() {
        return inputGradient;
    }

    /** Backward passes that computed no input gradient. */
    long skippedInputGradients() {
        return skippedInputGradients;
    }

    /** Forward passes computed by oneDNN here (not counting outputs handed back to backprop). */
    long forwardPasses() {
        return forwardPasses;
    }

    /** Outputs whose ReLU the forward primitive applied, handed on by {@link #activate} without a pass of their own. */
    long fusedActivations() {
        return fusedActivations;
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
            for (ConvolutionPlan p : plans.values()) {
                bytes += p.ownedBytes();
            }
        }
        return Map.of("oneDnnForwardWeights", bytes);
    }

    @Override
    public synchronized INDArray activate(INDArray z, IActivation afn, boolean training) {
        // The ReLU is applied already where this helper's forward primitive made z (not where the fallback did).
        if (reluAfter && z == lastActivated.get()) {
            fusedActivations++;
            return z;
        }
        return afn.getActivation(z, training);
    }

    @Override
    public synchronized INDArray preOutput(INDArray input, INDArray weights, INDArray bias, int[] kernel,
                                           int[] strides, int[] pad, AlgoMode mode, FwdAlgo fwdAlgo,
                                           ConvolutionMode convolutionMode, int[] dilation, CNN2DFormat format,
                                           LayerWorkspaceMgr workspaceMgr) {
        ConvolutionPlan plan = plan(input, weights, kernel, strides, pad, convolutionMode, dilation, format);
        // the batch norm at the bridge's other end may have written this input (through the ReLU) in its blocked layout
        boolean xInPlace = inputInPlace(input, plan);
        if (plan == null) {
            fallbackCalls++;
            dropHandedResult();
            if (link != null) {
                link.resultWritten(null);
            }
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
        ConvolutionShape k = plan.key;
        INDArray x = plain(input, ArrayType.FF_WORKING_MEM, workspaceMgr);
        INDArray out = workspaceMgr.createUninitialized(ArrayType.ACTIVATIONS, DataType.FLOAT,
                new long[] {k.n(), k.oc(), k.oh(), k.ow()}, 'c');
        boolean weightsKept = weightsCurrent(plan, weights);
        INDArray w = weightsKept ? weights : plain(weights, ArrayType.FF_WORKING_MEM, workspaceMgr);
        INDArray b = hasBias ? plain(bias, ArrayType.FF_WORKING_MEM, workspaceMgr) : null;
        plan.forward(x, weightsKept ? null : w, b, out, address, link, xInPlace);
        forwardPasses++;
        if (plan.reluAfter()) {
            lastActivated = new WeakReference<>(out);
        }
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
        if (inferenceOnly) {
            // DL4J's layer then takes its own route, with a warning
            throw new IllegalStateException("this convolution belongs to an inference copy and has no backward pass:"
                    + " train the network as built, not its inference copy");
        }
        forgetForwardOutput();
        // the batch norm at the link's other end may have written delta in its blocked layout, in place
        memory.desc deltaInPlace = link == null ? null : link.takeGradient();
        if (deltaInPlace != null && !isPlain(delta)) {
            throw new IllegalStateException("output gradient of " + link + " written in place but handed on as a view");
        }
        ConvolutionPlan plan = plan(input, weights, kernel, strides, pad, convolutionMode, dilation, format);
        ConvolutionShape k = plan == null ? null : plan.key;
        // where the forward pass read x in the bridge's blocked layout in place, x still holds it; and dx must be
        // written in the layout the batch norm's output (the ReLU's mask) holds, whatever path this takes
        memory.desc xBlocked = inputInPlace != null && inputInPlaceAt == OneDnn.address(input) ? inputInPlace : null;
        inputInPlace = null;
        memory.desc dxLayout = bridge == null || !inputGradient ? null : bridge.outputLayout();
        if (plan == null || delta.dataType() != DataType.FLOAT || delta.rank() != 4 || delta.size(0) != k.n()
                || delta.size(1) != k.oc() || delta.size(2) != k.oh() || delta.size(3) != k.ow()
                || !plan.backwardAvailable()) {
            fallbackCalls++;
            dropHandedResult();
            if (deltaInPlace != null) {
                OneDnn.toPlainInPlace(OneDnn.address(delta), deltaInPlace, delta.shape());
            }
            if (link != null) {
                link.gradientTakes(null);
            }
            if (xBlocked != null) {
                restoreInput(input, xBlocked);
            }
            // DL4J hands a helper of its own oneDNN kind no bias-gradient array for a layer without bias (and that
            // helper takes a non-null one to mean a bias); this helper is given a dummy one, kept from the fallback.
            Pair<Gradient, INDArray> result = fallback.backpropGradient(input, weights, bias, delta, kernel, strides,
                    pad, hasBias ? biasGradView : null, weightGradView, afn, mode, bwdFilterAlgo, bwdDataAlgo,
                    convolutionMode, dilation, format, workspaceMgr);
            if (dxLayout != null) {
                toBridgeLayout(result.getSecond(), dxLayout);
            }
            return result;
        }
        memory.desc takes = xBlocked == null && dxLayout == null ? null : plan.inputLayoutInPlace();
        if (xBlocked != null && !OneDnn.sameLayout(xBlocked, takes)) {
            restoreInput(input, xBlocked);
            xBlocked = null;
        }
        boolean dxInPlace = OneDnn.sameLayout(dxLayout, takes);
        INDArray x = plain(input, ArrayType.BP_WORKING_MEM, workspaceMgr);
        INDArray dy = plain(delta, ArrayType.BP_WORKING_MEM, workspaceMgr);
        boolean weightsKept = inputGradient && weightsCurrent(plan, weights)
                && plan.backwardDataSharesForwardWeights();
        INDArray w = !inputGradient || weightsKept ? null : plain(weights, ArrayType.BP_WORKING_MEM, workspaceMgr);
        INDArray epsilon = !inputGradient ? null : workspaceMgr.createUninitialized(ArrayType.ACTIVATION_GRAD,
                DataType.FLOAT, input.shape(), 'c');
        INDArray dw = isPlain(weightGradView) ? weightGradView
                : workspaceMgr.createUninitialized(ArrayType.BP_WORKING_MEM, DataType.FLOAT, weights.shape(), 'c');
        INDArray db = !hasBias ? null : isPlain(biasGradView) ? biasGradView
                : workspaceMgr.createUninitialized(ArrayType.BP_WORKING_MEM, DataType.FLOAT, k.oc());
        if (plan.backward(x, w, dy, epsilon, dw, db, address, link, deltaInPlace, xBlocked != null, dxInPlace)) {
            handedGradients++;
        }
        if (dxInPlace) {
            bridge.gradientWritten(true);
        } else if (dxLayout != null) {
            toBridgeLayout(epsilon, dxLayout);
        }
        backwardPasses++;
        if (!inputGradient) {
            skippedInputGradients++;
        } else if (weightsKept) {
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

    /**
     * Whether this forward pass reads {@code input} in place in the bridge's blocked layout: where the batch norm at its
     * other end wrote it so in this step (or, in DL4J's forward pass again before backprop, wrote it so for the pass
     * before) and {@code plan}'s three passes take that layout. Where they do not, the input is rewritten as NCHW.
     * Tells the bridge which layout this layer takes for the next step.
     */
    private boolean inputInPlace(INDArray input, ConvolutionPlan plan) {
        if (bridge == null) {
            return false;
        }
        memory.desc takes = plan == null ? null : plan.inputLayoutInPlace();
        bridge.convolutionTakes(takes);
        memory.desc written = bridge.takeInput();
        if (written == null && OneDnn.sameLayout(inputInPlace, bridge.outputLayout())
                && inputInPlaceAt == OneDnn.address(input)) {
            return true; // the same input as the pass before, read again before backprop
        }
        inputInPlace = null;
        if (written == null) {
            return false;
        }
        if (!isPlain(input)) {
            throw new IllegalStateException("input of " + bridge + " written in place but handed on as a view");
        }
        if (!OneDnn.sameLayout(written, takes)) {
            restoreInput(input, written);
            return false;
        }
        inputInPlace = written;
        inputInPlaceAt = OneDnn.address(input);
        return true;
    }

    /** Rewrites this layer's input, which the bridge's batch norm wrote in its blocked layout {@code desc}, as NCHW. */
    private void restoreInput(INDArray input, memory.desc desc) {
        OneDnn.toPlainInPlace(OneDnn.address(input), desc, input.shape());
        bridge.inputRestored();
    }

    /** Rewrites an input gradient computed as NCHW in the layout the bridge's batch norm output holds. */
    private void toBridgeLayout(INDArray dx, memory.desc layout) {
        if (dx == null) {
            return;
        }
        if (!isPlain(dx)) {
            throw new IllegalStateException("input gradient of " + bridge + " is a view: cannot be written in place");
        }
        OneDnn.toBlockedInPlace(OneDnn.address(dx), layout, dx.shape());
        bridge.gradientWritten(false);
    }

    /** Drops the forward output kept for backprop (it belongs to a workspace this helper does not manage). */
    private void forgetForwardOutput() {
        lastInput = new WeakReference<>(null);
        lastWeights = new WeakReference<>(null);
        lastOutput = new WeakReference<>(null);
    }

    /**
     * Whether the plan's forward-layout weights are this array's, reordered in this same training step (or at all, in
     * an inference helper: there the weights do not change).
     */
    private boolean weightsCurrent(ConvolutionPlan plan, INDArray weights) {
        return weightsPlan == plan && weightsOf.get() == weights && (inferenceOnly || sameStep(weightsStep.get()));
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
    private ConvolutionPlan plan(INDArray input, INDArray weights, int[] kernel, int[] strides, int[] pad,
                      ConvolutionMode convolutionMode, int[] dilation, CNN2DFormat format) {
        ConvolutionShape key = key(input, weights, kernel, strides, pad, convolutionMode, dilation, format, hasBias);
        if (key == null || !OneDnn.available()) {
            return null;
        }
        ConvolutionPlan plan = plans.get(key);
        if (plan == null) {
            plan = ConvolutionPlan.create(key, variant, reluAfter);
            plans.put(key, plan);
        }
        return plan.usable() ? plan : null;
    }

    /**
     * The shape of a convolution this helper takes: NCHW float input and weights, groups of one, no dilation,
     * Truncate, Strict or Same padding as DL4J computes it. Null otherwise.
     */
    static ConvolutionShape key(INDArray input, INDArray weights, int[] kernel, int[] strides, int[] pad,
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
        return new ConvolutionShape(input.size(0), input.size(1), h, w, weights.size(0), out[0], out[1], kernel[0], kernel[1],
                strides[0], strides[1], top[0], top[1], bottom[0], bottom[1], hasBias);
    }

}
