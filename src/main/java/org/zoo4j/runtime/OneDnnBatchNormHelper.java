package org.zoo4j.runtime;

import java.util.Map;
import org.bytedeco.dnnl.IntMemoryMap;
import org.bytedeco.dnnl.batch_normalization_backward;
import org.bytedeco.dnnl.batch_normalization_forward;
import org.bytedeco.dnnl.global.dnnl;
import org.bytedeco.dnnl.memory;
import org.bytedeco.dnnl.primitive;
import org.bytedeco.dnnl.primitive_attr;
import org.bytedeco.dnnl.stream;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.gradient.DefaultGradient;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.layers.mkldnn.MKLDNNBatchNormHelper;
import org.deeplearning4j.nn.params.BatchNormalizationParamInitializer;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.shape.Shape;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A batch-norm helper that calls oneDNN's batch normalization itself (through the JavaCPP presets, {@link OneDnn}) on
 * DL4J's NCHW float arrays for training, forward and backward. Installed by {@link LayerHelpers}.
 *
 * <p>Why: zoo4j's {@link ChannelPassBatchNormHelper} takes a training step in about ten whole-array passes of
 * libnd4j's ops (sums as matrix products, broadcast multiplies and adds); oneDNN's primitive does the forward pass in
 * three and the backward pass in two, each channel's plane in cache. The primitives are made once per shape and kept;
 * gamma, beta, the statistics and the gradients of gamma and beta are bound by address (oneDNN's separate scale and
 * shift arguments), so nothing is copied around the call. The running statistics stay DL4J's: its layer reads the
 * batch mean and (biased) variance back through {@link #getMeanCache} and {@link #getVarCache} and updates them itself.
 *
 * <p>Inference (the running statistics) stays on DL4J's helper, libnd4j's batchnorm op on its own oneDNN: per call
 * the two took the same time at batch 256, but whole-network inference with this one ran 0.846 to 0.963 times as fast
 * on VGG16-BN in all five rounds measured (training/benchmarks/README.md, "Batch norm through oneDNN"), for a reason
 * not found.
 *
 * <p>Inside the call, where the channels divide into blocks of 16 or 8, the primitives run on oneDNN's blocked layout
 * ({@code nChw16c}, {@code nChw8c}: the first one oneDNN has a JIT-compiled kernel for), the activations and their
 * gradients reordered in and out around them ({@link PrimitiveArgument}, per-thread scratch buffers): on plain NCHW
 * arrays oneDNN 2.5.2 runs batch norm in C++ loops ({@code ncsp_bnorm}) that took most of its time
 * (training/benchmarks/README.md). {@value LayerHelpers#BATCH_NORM_LAYOUT}{@code =nchw} keeps NCHW throughout.
 * Where a convolution is linked to this layer ({@link OneDnn.Link}), its blocked result is taken as x without a
 * reorder, and the blocked dL/dx is left for it; in a graph trained with {@code fit} both arrays hold the blocked
 * layout in place of NCHW, and x is rewritten as NCHW in place before any path that reads it so (inference, the
 * fallback). Where a plain ReLU alone reads this layer and a convolution alone reads the ReLU ({@link OneDnn.Bridge}),
 * in such a graph the training pass writes its output, and the backward pass reads its output gradient, in the blocked
 * layout in place.
 *
 * <p>It takes rank-4 NCHW float arrays with default strides (DL4J hands a dense layer's [N, C] on as [N, C, 1, 1]);
 * anything else (NHWC, other data types, other strides, a shape oneDNN refuses, the dnnl natives missing) goes to
 * {@link ChannelPassBatchNormHelper}, which hands what it does not take to DL4J's own helper. Not thread-safe per
 * instance (a layer is used by one thread at a time); the calls are synchronized anyway.
 */
final class OneDnnBatchNormHelper extends MKLDNNBatchNormHelper {
    private final ChannelPassBatchNormHelper fallback;
    /** Whether the primitives may run on a blocked layout inside the call. */
    private final boolean blockedLayout;
    private final Map<Key, Plan> plans = OneDnn.plans();
    private final OneDnn.Address address = new OneDnn.Address();
    /** Batch statistics of the last training forward pass taken here, outside workspaces; null: the fallback's. */
    private INDArray batchMean;
    private INDArray batchVariance;
    private Plan lastTrainingPlan;
    /** The blocked layout the last training forward pass took its input in, in place (OneDnn.Link); null: NCHW. */
    private memory.desc inputInPlace;
    private long restoredInputs;

    /** The convolution whose only reader this is, where {@link LayerHelpers#install} linked them ({@link OneDnn.Link}). */
    private OneDnn.Link link;
    /**
     * The convolution this layer reaches through a plain ReLU, where {@link LayerHelpers#installForTraining} bridged
     * them: in a training step this layer's output and output gradient may hold oneDNN's blocked layout in place
     * ({@link OneDnn.Bridge}).
     */
    private OneDnn.Bridge bridge;
    private long handedInputs;
    private long trainingPasses;
    private long backwardPasses;
    private long fallbackCalls;

    OneDnnBatchNormHelper(DataType dataType) {
        this(dataType, true);
    }

    /** {@code blockedLayout}: whether the primitives may run on oneDNN's blocked layout inside each call. */
    OneDnnBatchNormHelper(DataType dataType, boolean blockedLayout) {
        super(dataType);
        this.fallback = new ChannelPassBatchNormHelper(dataType);
        this.blockedLayout = blockedLayout;
    }

    /** Takes this layer's input from, and hands its input gradient to, the convolution at the other end of {@code l}. */
    synchronized void link(OneDnn.Link l) {
        link = l;
    }

    synchronized OneDnn.Link link() {
        return link;
    }

    /** Hands this layer's output to, and takes its output gradient from, the convolution at the other end of {@code b}. */
    synchronized void bridge(OneDnn.Bridge b) {
        bridge = b;
    }

    synchronized OneDnn.Bridge bridge() {
        return bridge;
    }

    /** Training forward passes whose input came in the blocked layout from the linked convolution. */
    synchronized long handedInputs() {
        return handedInputs;
    }

    /** Training forward passes computed by oneDNN here. */
    synchronized long trainingPasses() {
        return trainingPasses;
    }

    /** Backward passes computed by oneDNN here. */
    synchronized long backwardPasses() {
        return backwardPasses;
    }

    /** Inputs the linked convolution wrote in place in its blocked layout that were rewritten as NCHW for another path. */
    synchronized long restoredInputs() {
        return restoredInputs;
    }

    /** The layout the last training pass's plan could write its output in place in ({@link OneDnn.Bridge}), or null. */
    synchronized memory.desc lastOutputLayoutInPlace() {
        return lastTrainingPlan == null ? null : lastTrainingPlan.outputLayoutInPlace();
    }

    /** Calls handed to {@link ChannelPassBatchNormHelper}. */
    synchronized long fallbackCalls() {
        return fallbackCalls;
    }

    /** The oneDNN implementations chosen for the shapes seen, one line each. */
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
    public boolean checkSupported(double eps, boolean fixedGammaBeta) {
        return true; // what this helper does not take, its fallback (and DL4J's own helper behind it) does
    }

    @Override
    public synchronized INDArray preOutput(INDArray x, boolean training, long[] shape, INDArray gamma, INDArray beta,
                                           INDArray mean, INDArray var, double decay, double eps, CNN2DFormat format,
                                           LayerWorkspaceMgr workspaceMgr) {
        inputInPlace = null;
        Plan plan = !training ? null : ChannelPassBatchNormHelper.applies(x, format) && isPlainVector(gamma, x.size(1))
                && isPlainVector(beta, x.size(1)) ? plan(new Key(x.shape(), (float) eps)) : null;
        // the linked convolution may have written x in its blocked layout, in place (OneDnn.Link)
        memory.desc xInPlace = link == null ? null : link.takeResult(plan != null);
        if (xInPlace != null && !(plan != null && xInPlace.equals(plan.src.innerDesc))) {
            restoreInPlace(x, xInPlace); // every other path reads x as NCHW
            xInPlace = null;
        }
        if (bridge != null && plan == null) {
            bridge.outputWritten(null); // every path but oneDNN's training pass writes the output as NCHW
        }
        if (!training) { // DL4J's helper, by its fallback (see the class comment)
            return fallback.preOutput(x, false, shape, gamma, beta, mean, var, decay, eps, format, workspaceMgr);
        }
        if (plan == null) {
            fallbackCalls++;
            lastTrainingPlan = null;
            dropHandedResult();
            return fallback.preOutput(x, true, shape, gamma, beta, mean, var, decay, eps, format, workspaceMgr);
        }
        INDArray out = workspaceMgr.createUninitialized(ArrayType.ACTIVATIONS, DataType.FLOAT, x.shape(), 'c');
        keepStatistics(x.size(1));
        // where the bridged convolution takes it so, the output is written in the blocked layout in place
        memory.desc wanted = bridge == null ? null : bridge.outputWanted();
        boolean outInPlace = OneDnn.sameLayout(wanted, plan.outputLayoutInPlace());
        if (plan.forward(x, gamma, beta, batchMean, batchVariance, out, address, link, xInPlace != null, outInPlace)) {
            handedInputs++;
        }
        if (bridge != null) {
            bridge.outputWritten(outInPlace ? wanted : null);
        }
        inputInPlace = xInPlace;
        lastTrainingPlan = plan;
        trainingPasses++;
        return out;
    }

    @Override
    public synchronized INDArray getMeanCache(DataType dataType) {
        return lastTrainingPlan == null ? fallback.getMeanCache(dataType) : batchMean.castTo(dataType);
    }

    @Override
    public synchronized INDArray getVarCache(DataType dataType) {
        return lastTrainingPlan == null ? fallback.getVarCache(dataType) : batchVariance.castTo(dataType);
    }

    @Override
    public synchronized Pair<Gradient, INDArray> backpropGradient(INDArray input, INDArray epsilon, long[] shape,
                                                                  INDArray gamma, INDArray beta, INDArray dGammaView,
                                                                  INDArray dBetaView, double eps, CNN2DFormat format,
                                                                  LayerWorkspaceMgr workspaceMgr) {
        Plan plan = lastTrainingPlan;
        long c = input.size(1);
        // where this layer's output was written in the bridge's blocked layout, so is its gradient (the ReLU keeps it)
        memory.desc dyBlocked = bridge == null ? null : bridge.takeGradient();
        if (plan == null || !ChannelPassBatchNormHelper.applies(input, format) || !plan.key.matches(input.shape())
                || plan.key.eps != (float) eps || !isPlainVector(gamma, c) || !isPlainVector(dGammaView, c)
                || !isPlainVector(beta, c) || !isPlainVector(dBetaView, c) || !plan.backwardAvailable()
                || epsilon.dataType() != DataType.FLOAT
                || !java.util.Arrays.equals(epsilon.shape(), input.shape())) {
            fallbackCalls++;
            dropHandedResult();
            if (inputInPlace != null) {
                restoreInPlace(input, inputInPlace);
                inputInPlace = null;
            }
            if (link != null) {
                link.gradientWritten(null);
            }
            if (dyBlocked != null) {
                restoreGradient(epsilon, dyBlocked);
            }
            return fallback.backpropGradient(input, epsilon, shape, gamma, beta, dGammaView, dBetaView, eps, format,
                    workspaceMgr);
        }
        boolean plainEpsilon = epsilon.ordering() == 'c' && Shape.hasDefaultStridesForShape(epsilon);
        if (dyBlocked != null && !(plainEpsilon && OneDnn.sameLayout(dyBlocked, plan.outputLayoutInPlace()))) {
            restoreGradient(epsilon, dyBlocked);
            dyBlocked = null;
        }
        INDArray dy = plainEpsilon ? epsilon : workspaceMgr.dup(ArrayType.BP_WORKING_MEM, epsilon, 'c');
        INDArray dx = workspaceMgr.createUninitialized(ArrayType.ACTIVATION_GRAD, DataType.FLOAT, input.shape(), 'c');
        plan.backward(input, gamma, beta, batchMean, batchVariance, dy, dx, dGammaView, dBetaView, address, link,
                inputInPlace != null, dyBlocked != null);
        inputInPlace = null;
        backwardPasses++;
        Gradient gradient = new DefaultGradient();
        gradient.setGradientFor(BatchNormalizationParamInitializer.GAMMA, dGammaView);
        gradient.setGradientFor(BatchNormalizationParamInitializer.BETA, dBetaView);
        return new Pair<>(gradient, dx);
    }

    @Override
    public synchronized Map<String, Long> helperMemoryUse() {
        return Map.of("oneDnnBatchStatistics", batchMean == null ? 0L : 2 * batchMean.length() * Float.BYTES);
    }

    /** Rewrites x, which the linked convolution wrote in the blocked layout {@code desc} in place, as NCHW. */
    private void restoreInPlace(INDArray x, memory.desc desc) {
        if (x.ordering() != 'c' || !Shape.hasDefaultStridesForShape(x) || x.dataType() != DataType.FLOAT) {
            throw new IllegalStateException("input of " + link + " written in place but handed on as a view");
        }
        OneDnn.toPlainInPlace(OneDnn.address(x), desc, x.shape());
        restoredInputs++;
    }

    /** Rewrites this layer's output gradient, which the bridge's convolution wrote in blocked layout {@code desc}, as NCHW. */
    private void restoreGradient(INDArray epsilon, memory.desc desc) {
        if (epsilon.ordering() != 'c' || !Shape.hasDefaultStridesForShape(epsilon)
                || epsilon.dataType() != DataType.FLOAT) {
            throw new IllegalStateException("output gradient of " + bridge + " written in place but handed on as a view");
        }
        OneDnn.toPlainInPlace(OneDnn.address(epsilon), desc, epsilon.shape());
        bridge.inputRestored();
    }

    /** On a linked layer's other path: what the convolution handed on is not for this call, nor for a later one. */
    private void dropHandedResult() {
        if (link != null) {
            OneDnn.scratch().drop();
        }
    }

    /** The kept plan for this shape (made on first use), or null where oneDNN does not take it. */
    private Plan plan(Key key) {
        if (!OneDnn.available()) {
            return null;
        }
        Plan plan = plans.get(key);
        if (plan == null) {
            plan = Plan.create(key, blockedLayout);
            plans.put(key, plan);
        }
        return plan.usable() ? plan : null;
    }

    private void keepStatistics(long channels) {
        if (batchMean == null || batchMean.length() != channels) {
            try (MemoryWorkspace ignored = Nd4j.getMemoryManager().scopeOutOfWorkspaces()) {
                batchMean = Nd4j.createUninitialized(DataType.FLOAT, channels);
                batchVariance = Nd4j.createUninitialized(DataType.FLOAT, channels);
            }
        }
    }

    /** A float vector of {@code length} elements, contiguous (any shape: DL4J's are [1, C] views of its flat params). */
    private static boolean isPlainVector(INDArray v, long length) {
        if (!isFloatVector(v, length)) {
            return false;
        }
        // a [1, C] or [C] view with unit stride, or any c-ordered array with default strides
        return length == 1 || (v.rank() == 1 || v.rank() == 2 && v.size(0) == 1) && v.stride(-1) == 1
                || Shape.hasDefaultStridesForShape(v) && v.ordering() == 'c';
    }

    private static boolean isFloatVector(INDArray v, long length) {
        return v != null && v.dataType() == DataType.FLOAT && v.length() == length && !v.isEmpty();
    }

    /** A shape of NCHW activations and the epsilon. */
    record Key(long n, long c, long h, long w, float eps) {
        Key(long[] shape, float eps) {
            this(shape[0], shape[1], shape[2], shape[3], eps);
        }

        long[] dims() {
            return new long[] {n, c, h, w};
        }

        boolean matches(long[] shape) {
            return shape[0] == n && shape[1] == c && shape[2] == h && shape[3] == w;
        }

        @Override
        public String toString() {
            return n + "x" + c + "x" + h + "x" + w;
        }
    }

    /** The primitives for one shape, made once, and the memory objects they run on (buffers bound per call). */
    static final class Plan {
        final Key key;
        private final String failure;
        private final batch_normalization_forward.primitive_desc fwdPd;
        private final primitive fwd;
        private final PrimitiveArgument src;
        private final PrimitiveArgument dst;
        private final memory scale;
        private final memory shift;
        private final memory mean;
        private final memory variance;
        private final memory fwdScratch;
        private final IntMemoryMap fwdArgs = new IntMemoryMap();
        private primitive bwd;
        private batch_normalization_backward.primitive_desc bwdPd;
        private String bwdFailure;
        private boolean outputLayoutKnown;
        private memory.desc outputLayoutInPlace;
        private PrimitiveArgument diffDst;
        private PrimitiveArgument diffSrc;
        private memory diffScale;
        private memory diffShift;
        private memory bwdScratch;
        private final IntMemoryMap bwdArgs = new IntMemoryMap();

        private Plan(Key key, String failure, batch_normalization_forward.primitive_desc fwdPd) {
            this.key = key;
            this.failure = failure;
            this.fwdPd = fwdPd;
            if (fwdPd == null) {
                fwd = null;
                src = dst = null;
                scale = shift = mean = variance = fwdScratch = null;
                return;
            }
            fwd = new batch_normalization_forward(fwdPd);
            memory.desc plain = activationDesc(key, memory.format_tag.nchw);
            src = new PrimitiveArgument(plain, fwdPd.src_desc(), OneDnn.Slot.SRC, true, false);
            dst = new PrimitiveArgument(plain, fwdPd.dst_desc(), OneDnn.Slot.DST, false, true);
            memory.desc perChannel = vectorDesc(key.c());
            scale = OneDnn.unbound(perChannel);
            shift = OneDnn.unbound(perChannel);
            mean = OneDnn.unbound(fwdPd.mean_desc());
            variance = OneDnn.unbound(fwdPd.variance_desc());
            fwdScratch = scratchpad(fwdPd.scratchpad_desc());
            fwdArgs.put(dnnl.DNNL_ARG_SRC, src.inner);
            fwdArgs.put(dnnl.DNNL_ARG_SCALE, scale);
            fwdArgs.put(dnnl.DNNL_ARG_SHIFT, shift);
            fwdArgs.put(dnnl.DNNL_ARG_MEAN, mean);
            fwdArgs.put(dnnl.DNNL_ARG_VARIANCE, variance);
            fwdArgs.put(dnnl.DNNL_ARG_DST, dst.inner);
            if (fwdScratch != null) {
                fwdArgs.put(dnnl.DNNL_ARG_SCRATCHPAD, fwdScratch);
            }
        }

        /**
         * The plan for {@code key}: on the first blocked layout the channels divide into that oneDNN has a JIT kernel
         * for (when {@code blocked}), else on NCHW.
         */
        static Plan create(Key key, boolean blocked) {
            try {
                int flags = dnnl.normalization_flags.use_scale.value | dnnl.normalization_flags.use_shift.value;
                if (blocked) {
                    for (var tag : new memory.format_tag[] {memory.format_tag.nChw16c, memory.format_tag.nChw8c}) {
                        int block = tag == memory.format_tag.nChw16c ? 16 : 8;
                        if (key.c() % block != 0) {
                            continue;
                        }
                        var pd = forwardDesc(key, tag, flags);
                        if (pd != null && pd.impl_info_str().getString().contains("jit")) {
                            return new Plan(key, null, pd);
                        }
                    }
                }
                return new Plan(key, null, new batch_normalization_forward.primitive_desc(
                        new batch_normalization_forward.desc(dnnl.prop_kind.forward_training.value,
                                activationDesc(key, memory.format_tag.nchw), key.eps(), flags),
                        userScratchpad(), OneDnn.engine()));
            } catch (RuntimeException e) {
                return new Plan(key, e.getMessage() == null ? e.toString() : e.getMessage(), null);
            }
        }

        /** The forward primitive's description on layout {@code tag}, or null where oneDNN has none. */
        private static batch_normalization_forward.primitive_desc forwardDesc(Key key, memory.format_tag tag,
                                                                              int flags) {
            try {
                return new batch_normalization_forward.primitive_desc(new batch_normalization_forward.desc(
                        dnnl.prop_kind.forward_training.value, activationDesc(key, tag), key.eps(), flags),
                        userScratchpad(), OneDnn.engine());
            } catch (RuntimeException e) {
                return null;
            }
        }

        boolean usable() {
            return failure == null;
        }

        boolean backwardAvailable() {
            if (bwd == null && bwdFailure == null) {
                try {
                    int flags = dnnl.normalization_flags.use_scale.value | dnnl.normalization_flags.use_shift.value;
                    memory.desc act = fwdPd.src_desc(); // the forward pass's layout
                    var desc = new batch_normalization_backward.desc(dnnl.prop_kind.backward.value, act, act,
                            key.eps(), flags);
                    bwdPd = new batch_normalization_backward.primitive_desc(desc, userScratchpad(), OneDnn.engine(),
                            fwdPd);
                    bwd = new batch_normalization_backward(bwdPd);
                    memory.desc plain = activationDesc(key, memory.format_tag.nchw);
                    diffDst = new PrimitiveArgument(plain, bwdPd.diff_dst_desc(), OneDnn.Slot.DIFF_DST, true, false);
                    diffSrc = new PrimitiveArgument(plain, bwdPd.diff_src_desc(), OneDnn.Slot.DIFF_SRC, false, true);
                    memory.desc perChannel = vectorDesc(key.c());
                    diffScale = OneDnn.unbound(perChannel);
                    diffShift = OneDnn.unbound(perChannel);
                    bwdScratch = scratchpad(bwdPd.scratchpad_desc());
                    bwdArgs.put(dnnl.DNNL_ARG_SRC, src.inner);
                    bwdArgs.put(dnnl.DNNL_ARG_MEAN, mean);
                    bwdArgs.put(dnnl.DNNL_ARG_VARIANCE, variance);
                    bwdArgs.put(dnnl.DNNL_ARG_DIFF_DST, diffDst.inner);
                    bwdArgs.put(dnnl.DNNL_ARG_SCALE, scale);
                    bwdArgs.put(dnnl.DNNL_ARG_SHIFT, shift); // with use_shift, execution fails without it
                    bwdArgs.put(dnnl.DNNL_ARG_DIFF_SRC, diffSrc.inner);
                    bwdArgs.put(dnnl.DNNL_ARG_DIFF_SCALE, diffScale);
                    bwdArgs.put(dnnl.DNNL_ARG_DIFF_SHIFT, diffShift);
                    if (bwdScratch != null) {
                        bwdArgs.put(dnnl.DNNL_ARG_SCRATCHPAD, bwdScratch);
                    }
                } catch (RuntimeException e) {
                    bwd = null;
                    bwdFailure = e.getMessage() == null ? e.toString() : e.getMessage();
                }
            }
            return bwd != null;
        }

        /**
         * The blocked layout the forward pass's output and the backward pass's output gradient both take, where it takes
         * as many bytes as NCHW: the layout a {@link OneDnn.Bridge} may hold them in, in place; or null.
         */
        memory.desc outputLayoutInPlace() {
            if (!outputLayoutKnown) { // fixed once the backward primitive exists: asked every step, worked out once
                outputLayoutKnown = true;
                outputLayoutInPlace = dst.sameBytesAsUser() && backwardAvailable() && diffDst.sameBytesAsUser()
                        && dst.innerDesc.equals(diffDst.innerDesc) ? dst.innerDesc : null;
            }
            return outputLayoutInPlace;
        }

        String describe() {
            if (failure != null) {
                return "not supported by oneDNN here: " + failure;
            }
            return "forward " + fwdPd.impl_info_str().getString()
                    + (bwdPd != null ? "; backward " + bwdPd.impl_info_str().getString()
                    : bwdFailure != null ? "; backward not supported: " + bwdFailure : "");
        }

        /**
         * out = gamma * (x - mean) / sqrt(variance + eps) + beta; the batch's mean and variance go into m and v. With
         * a {@code link}, x may come in the blocked layout from the convolution at its other end; returns whether it
         * did. {@code outInPlace}: out is written in {@link #outputLayoutInPlace} in place of NCHW ({@link OneDnn.Bridge}).
         */
        boolean forward(INDArray x, INDArray gamma, INDArray beta, INDArray m, INDArray v, INDArray out,
                        OneDnn.Address address, OneDnn.Link link, boolean xInPlace, boolean outInPlace) {
            stream s = OneDnn.stream();
            OneDnn.Scratch scratch = OneDnn.scratch();
            long handed = link == null ? 0 : scratch.take(OneDnn.address(x), src.innerDesc, link);
            if (xInPlace) {
                src.bindInPlace(OneDnn.address(x), address);
                handed = 0;
            } else if (handed != 0) {
                src.bindHanded(OneDnn.address(x), address, handed);
            } else {
                src.bind(OneDnn.address(x), address, scratch, s);
            }
            scale.set_data_handle(address.at(OneDnn.address(gamma)));
            shift.set_data_handle(address.at(OneDnn.address(beta)));
            mean.set_data_handle(address.at(OneDnn.address(m)));
            variance.set_data_handle(address.at(OneDnn.address(v)));
            if (outInPlace) {
                dst.bindInPlace(OneDnn.address(out), address);
            } else {
                // x handed on sits in the DST buffer: y's blocked copy then takes SRC's, unused here
                dst.bind(OneDnn.address(out), address, scratch, s, handed != 0 ? OneDnn.Slot.SRC : OneDnn.Slot.DST);
            }
            bindScratch(fwdScratch, address);
            fwd.execute(s, fwdArgs);
            if (!outInPlace) {
                dst.writeBack(s);
            }
            s._wait();
            return handed != 0 || xInPlace;
        }

        /**
         * dx, dgamma and dbeta from x, gamma, the batch statistics of the forward pass and dy. With a {@code link},
         * the blocked dx is left for the convolution at its other end. {@code dyInPlace}: dy holds
         * {@link #outputLayoutInPlace} in place of NCHW ({@link OneDnn.Bridge}).
         */
        void backward(INDArray x, INDArray gamma, INDArray beta, INDArray m, INDArray v, INDArray dy, INDArray dx,
                      INDArray dGamma, INDArray dBeta, OneDnn.Address address, OneDnn.Link link, boolean xInPlace,
                      boolean dyInPlace) {
            stream s = OneDnn.stream();
            OneDnn.Scratch scratch = OneDnn.scratch();
            if (xInPlace) {
                src.bindInPlace(OneDnn.address(x), address);
            } else {
                src.bind(OneDnn.address(x), address, scratch, s);
            }
            scale.set_data_handle(address.at(OneDnn.address(gamma)));
            shift.set_data_handle(address.at(OneDnn.address(beta)));
            mean.set_data_handle(address.at(OneDnn.address(m)));
            variance.set_data_handle(address.at(OneDnn.address(v)));
            if (dyInPlace) {
                diffDst.bindInPlace(OneDnn.address(dy), address);
            } else {
                diffDst.bind(OneDnn.address(dy), address, scratch, s);
            }
            // where the linked convolution takes it so, dx is written in the blocked layout in place
            memory.desc wanted = link == null ? null : link.gradientInPlaceWanted();
            boolean dxInPlace = wanted != null && diffSrc.sameBytesAsUser() && wanted.equals(diffSrc.innerDesc);
            if (dxInPlace) {
                diffSrc.bindInPlace(OneDnn.address(dx), address);
            } else {
                diffSrc.bind(OneDnn.address(dx), address, scratch, s);
            }
            diffScale.set_data_handle(address.at(OneDnn.address(dGamma)));
            diffShift.set_data_handle(address.at(OneDnn.address(dBeta)));
            bindScratch(bwdScratch, address);
            bwd.execute(s, bwdArgs);
            if (!dxInPlace) {
                diffSrc.writeBack(s);
            }
            s._wait();
            if (link != null) {
                link.gradientWritten(dxInPlace ? diffSrc.innerDesc : null);
            }
            if (!dxInPlace) {
                diffSrc.hand(OneDnn.address(dx), scratch, link);
            }
        }

        private static void bindScratch(memory scratch, OneDnn.Address address) {
            if (scratch != null) {
                scratch.set_data_handle(address.at(OneDnn.scratch().buffer(OneDnn.Slot.SCRATCHPAD,
                        scratch.get_desc().get_size())));
            }
        }

        private static memory.desc activationDesc(Key key, memory.format_tag tag) {
            return new memory.desc(key.dims(), memory.data_type.f32, tag);
        }

        private static memory.desc vectorDesc(long length) {
            return new memory.desc(new long[] {length}, memory.data_type.f32, memory.format_tag.x);
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
}
