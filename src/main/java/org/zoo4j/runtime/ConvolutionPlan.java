package org.zoo4j.runtime;

import org.bytedeco.dnnl.IntMemoryMap;
import org.bytedeco.dnnl.convolution_backward_data;
import org.bytedeco.dnnl.convolution_backward_weights;
import org.bytedeco.dnnl.convolution_forward;
import org.bytedeco.dnnl.global.dnnl;
import org.bytedeco.dnnl.memory;
import org.bytedeco.dnnl.post_ops;
import org.bytedeco.dnnl.primitive;
import org.bytedeco.dnnl.primitive_attr;
import org.bytedeco.dnnl.reorder;
import org.bytedeco.dnnl.stream;
import org.nd4j.linalg.api.ndarray.INDArray;

/** The primitives for one shape, made once, and the memory objects they run on (buffers bound per call). */
final class ConvolutionPlan {
    final ConvolutionShape key;
    private final ConvolutionVariant variant;
    /** Whether the forward primitive applies max(0, x) to its output (a post-op: no pass of its own). */
    private final boolean reluAfter;
    private final String failure;
    private final convolution_forward.primitive_desc fwdPd;
    private final primitive fwd;
    private final PrimitiveArgument src;
    private final PrimitiveArgument dst;
    private final memory weightsUser;
    private final memory weightsFwd; // owned, in the forward layout; == weightsUser when that is plain
    private final reorder weightsToFwd;
    private final memory biasUser;
    private final memory fwdScratch;
    private final IntMemoryMap fwdArgs = new IntMemoryMap();
    private boolean lastForwardReordered;
    private Backward bwd;
    private String bwdFailure;
    private boolean inputLayoutKnown;
    private memory.desc inputLayoutInPlace;

    private ConvolutionPlan(ConvolutionShape key, ConvolutionVariant variant, boolean reluAfter, String failure,
                            convolution_forward.primitive_desc fwdPd) {
        this.key = key;
        this.variant = variant;
        this.reluAfter = reluAfter;
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
        src = new PrimitiveArgument(plainDesc(key.src(), memory.format_tag.nchw), fwdPd.src_desc(), OneDnn.Slot.SRC, true,
                false);
        dst = new PrimitiveArgument(plainDesc(key.dst(), memory.format_tag.nchw), fwdPd.dst_desc(), OneDnn.Slot.DST, false,
                true);
        memory.desc wPlain = plainDesc(key.weights(), memory.format_tag.oihw);
        weightsUser = OneDnn.unbound(wPlain);
        boolean sameWeights = fwdPd.weights_desc().equals(wPlain);
        weightsFwd = sameWeights ? weightsUser : new memory(fwdPd.weights_desc(), OneDnn.engine());
        weightsToFwd = sameWeights ? null : new reorder(weightsUser, weightsFwd);
        biasUser = key.bias() ? OneDnn.unbound(plainDesc(new long[] {key.oc()}, memory.format_tag.x)) : null;
        fwdScratch = scratchpad(fwdPd.scratchpad_desc());
        fwdArgs.put(dnnl.DNNL_ARG_SRC, src.inner);
        fwdArgs.put(dnnl.DNNL_ARG_WEIGHTS, weightsFwd);
        if (key.bias()) {
            fwdArgs.put(dnnl.DNNL_ARG_BIAS, biasUser);
        }
        fwdArgs.put(dnnl.DNNL_ARG_DST, dst.inner);
        if (fwdScratch != null) {
            fwdArgs.put(dnnl.DNNL_ARG_SCRATCHPAD, fwdScratch);
        }
    }

    /** The plan for a shape; its forward pass also applies max(0, x) to its output where {@code reluAfter}. */
    static ConvolutionPlan create(ConvolutionShape key, ConvolutionVariant variant, boolean reluAfter) {
        try {
            return new ConvolutionPlan(key, variant, reluAfter, null,
                    forwardDesc(key, variant, variant.forward(key), reluAfter));
        } catch (RuntimeException e) {
            return new ConvolutionPlan(key, variant, reluAfter, e.getMessage(), null);
        }
    }

    private static convolution_forward.primitive_desc forwardDesc(ConvolutionShape k, ConvolutionVariant v,
                                                                  dnnl.algorithm algorithm, boolean reluAfter) {
        memory.desc srcAny = activationDesc(k.src(), v);
        memory.desc wAny = anyDesc(k.weights());
        memory.desc dstAny = activationDesc(k.dst(), v);
        convolution_forward.desc d = k.bias()
                ? new convolution_forward.desc(dnnl.prop_kind.forward_training, algorithm, srcAny, wAny,
                plainDesc(new long[] {k.oc()}, memory.format_tag.x), dstAny, k.strides(), k.padL(), k.padR())
                : new convolution_forward.desc(dnnl.prop_kind.forward_training, algorithm, srcAny, wAny, dstAny,
                k.strides(), k.padL(), k.padR());
        primitive_attr attr = userScratchpad();
        if (reluAfter) {
            post_ops relu = new post_ops();
            relu.append_eltwise(1.0f, dnnl.algorithm.eltwise_relu, 0.0f, 0.0f);
            attr.set_post_ops(relu);
        }
        try {
            return new convolution_forward.primitive_desc(d, attr, OneDnn.engine());
        } catch (RuntimeException e) {
            if (algorithm == dnnl.algorithm.convolution_direct) {
                throw e;
            }
            return forwardDesc(k, v, dnnl.algorithm.convolution_direct, reluAfter);
        }
    }

    boolean usable() {
        return failure == null;
    }

    /** Whether {@link #forward} applies max(0, x) to its output. */
    boolean reluAfter() {
        return reluAfter;
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

    /**
     * The blocked layout that the forward pass's input, the backward-weights pass's input and the backward-data pass's
     * input gradient all take, where it takes as many bytes as NCHW: the layout a {@link OneDnn.Bridge} may hold those
     * arrays in, in place. Null where the three differ, any is NCHW, or there is no backward pass.
     */
    memory.desc inputLayoutInPlace() {
        if (!inputLayoutKnown) { // fixed once the backward primitives exist: asked every step, worked out once
            inputLayoutKnown = true;
            memory.desc d = src.innerDesc;
            inputLayoutInPlace = backwardAvailable() && src.sameBytesAsUser() && bwd.srcWeights.sameBytesAsUser()
                    && bwd.diffSrc.sameBytesAsUser() && d.equals(bwd.srcWeights.innerDesc)
                    && d.equals(bwd.diffSrc.innerDesc) ? d : null;
        }
        return inputLayoutInPlace;
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
        String s = "forward " + fwdPd.impl_info_str().getString() + (reluAfter ? " with ReLU" : "")
                + (src.reordered() ? " (src reordered)" : "") + (dst.reordered() ? " (dst reordered)" : "");
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
     * dst = conv(x, w) + b, then max(0, dst) for a plan made with {@code reluAfter}. A null {@code w} means the
     * forward-layout weights from earlier in this step are current. With a {@code link}, the blocked result is left
     * for the batch norm at its other end ({@link OneDnn.Scratch#hand}), or written into {@code out} itself in place
     * of the NCHW values where the link asks for that ({@link OneDnn.Link#resultInPlaceWanted}). {@code xInPlace}: x
     * holds {@link #inputLayoutInPlace} in place of NCHW ({@link OneDnn.Bridge}).
     */
    void forward(INDArray x, INDArray w, INDArray b, INDArray out, OneDnn.Address address, OneDnn.Link link,
                 boolean xInPlace) {
        stream s = OneDnn.stream();
        OneDnn.Scratch scratch = OneDnn.scratch();
        if (xInPlace) { // x holds the layout of inputLayoutInPlace() itself (OneDnn.Bridge)
            src.bindInPlace(OneDnn.address(x), address);
        } else {
            src.bind(OneDnn.address(x), address, scratch, s);
        }
        lastForwardReordered = false;
        if (w != null) {
            weightsUser.set_data_handle(address.at(OneDnn.address(w)));
            if (weightsToFwd != null) {
                long t = ConvolutionProfile.begin();
                weightsToFwd.execute(s, weightsUser, weightsFwd);
                ConvolutionProfile.add(ConvolutionProfile.Part.WEIGHT_REORDERS, t);
                lastForwardReordered = true;
            }
        }
        if (b != null) {
            biasUser.set_data_handle(address.at(OneDnn.address(b)));
        }
        // where the batch norm at the link's other end takes it so, the blocked result goes straight into out
        boolean inPlace = link != null && link.resultInPlaceWanted() && dst.sameBytesAsUser();
        if (inPlace) {
            dst.bindInPlace(OneDnn.address(out), address);
        } else {
            dst.bind(OneDnn.address(out), address, scratch, s);
        }
        if (fwdScratch != null) {
            fwdScratch.set_data_handle(address.at(scratch.buffer(OneDnn.Slot.SCRATCHPAD,
                    fwdScratch.get_desc().get_size())));
        }
        long t = ConvolutionProfile.begin();
        fwd.execute(s, fwdArgs);
        ConvolutionProfile.add(ConvolutionProfile.Part.FORWARD, t);
        if (!inPlace) {
            dst.writeBack(s);
        }
        s._wait();
        if (link != null) {
            link.resultWritten(inPlace ? dst.innerDesc : null);
        }
        if (!inPlace) {
            dst.hand(OneDnn.address(out), scratch, link);
        }
    }

    /**
     * dx, dw and db (null without bias) from x, w and dy. A null {@code dx}: no input gradient (no backward-data
     * pass). A null {@code w} means the forward-layout weights from earlier in this step are current and the
     * backward-data primitive takes that layout (or that there is no backward-data pass). With a {@code link}, dy
     * may come in the blocked layout from the batch norm at its other end ({@link OneDnn.Scratch#take}), or be held
     * in place by dy itself in layout {@code dyInPlace} (null: dy is NCHW). {@code xInPlace}: x holds
     * {@link #inputLayoutInPlace} in place of NCHW; {@code dxInPlace}: dx is written so ({@link OneDnn.Bridge}).
     * Returns whether dy came blocked either way.
     */
    boolean backward(INDArray x, INDArray w, INDArray dy, INDArray dx, INDArray dw, INDArray db,
                     OneDnn.Address address, OneDnn.Link link, memory.desc dyInPlace, boolean xInPlace,
                     boolean dxInPlace) {
        Backward b = bwd;
        stream s = OneDnn.stream();
        OneDnn.Scratch scratch = OneDnn.scratch();
        long handed = link == null ? 0 : scratch.take(OneDnn.address(dy), b.diffDstData.innerDesc, link);
        boolean takesInPlace = b.diffDstWeights == null && b.diffDstData.sameBytesAsUser();
        boolean inPlace = dyInPlace != null && takesInPlace && dyInPlace.equals(b.diffDstData.innerDesc);
        if (dyInPlace != null && !inPlace) { // written in a layout this pass does not take: NCHW again first
            OneDnn.toPlainInPlace(OneDnn.address(dy), dyInPlace, key.dst());
        }
        if (link != null) {
            link.gradientTakes(takesInPlace ? b.diffDstData.innerDesc : null);
        }
        // weights gradient (and bias gradient) first
        if (inPlace) {
            b.diffDstData.bindInPlace(OneDnn.address(dy), address);
        } else if (handed != 0) {
            b.diffDstData.bindHanded(OneDnn.address(dy), address, handed);
        } else {
            b.diffDstData.bind(OneDnn.address(dy), address, scratch, s);
        }
        if (b.diffDstWeights != null) {
            b.diffDstWeights.bind(OneDnn.address(dy), address, scratch, s);
        }
        if (xInPlace) {
            b.srcWeights.bindInPlace(OneDnn.address(x), address);
        } else {
            b.srcWeights.bind(OneDnn.address(x), address, scratch, s);
        }
        b.diffWeights.bind(OneDnn.address(dw), address, scratch, s);
        if (db != null) {
            b.diffBias.set_data_handle(address.at(OneDnn.address(db)));
        }
        if (b.weightsScratch != null) {
            b.weightsScratch.set_data_handle(address.at(scratch.buffer(OneDnn.Slot.SCRATCHPAD,
                    b.weightsScratch.get_desc().get_size())));
        }
        long t = ConvolutionProfile.begin();
        b.weightsPrimitive.execute(s, b.weightsArgs);
        ConvolutionProfile.add(ConvolutionProfile.Part.BACKWARD_WEIGHTS, t);
        b.diffWeights.writeBack(s);
        if (dx == null) { // the input gradient is not wanted
            s._wait();
            return handed != 0 || inPlace;
        }
        // then the input gradient
        if (w != null) {
            b.weights.bind(OneDnn.address(w), address, scratch, s);
            b.dataArgs.put(dnnl.DNNL_ARG_WEIGHTS, b.weights.inner);
        } else {
            b.dataArgs.put(dnnl.DNNL_ARG_WEIGHTS, weightsFwd);
        }
        if (dxInPlace) { // dx is to hold the layout of inputLayoutInPlace() itself (OneDnn.Bridge)
            b.diffSrc.bindInPlace(OneDnn.address(dx), address);
        } else {
            // dy handed on sits in the DIFF_SRC buffer: dx's blocked copy then takes DIFF_DST's, unused here
            b.diffSrc.bind(OneDnn.address(dx), address, scratch, s, handed != 0 && !inPlace ? OneDnn.Slot.DIFF_DST
                    : OneDnn.Slot.DIFF_SRC);
        }
        if (b.dataScratch != null) {
            b.dataScratch.set_data_handle(address.at(scratch.buffer(OneDnn.Slot.SCRATCHPAD,
                    b.dataScratch.get_desc().get_size())));
        }
        t = ConvolutionProfile.begin();
        b.dataPrimitive.execute(s, b.dataArgs);
        ConvolutionProfile.add(ConvolutionProfile.Part.BACKWARD_DATA, t);
        if (!dxInPlace) {
            b.diffSrc.writeBack(s);
        }
        s._wait();
        return handed != 0 || inPlace;
    }

    /** The backward-data and backward-weights primitives of a plan, made on its first backward pass. */
    private static final class Backward {
        final convolution_backward_data.primitive_desc dataPd;
        final convolution_backward_weights.primitive_desc weightsPd;
        final primitive dataPrimitive;
        final primitive weightsPrimitive;
        final PrimitiveArgument diffDstData;
        final PrimitiveArgument diffDstWeights; // null where backward weights takes the same layout as backward data
        final PrimitiveArgument srcWeights;
        final PrimitiveArgument weights;
        final PrimitiveArgument diffSrc;
        final PrimitiveArgument diffWeights;
        final memory diffBias;
        final memory dataScratch;
        final memory weightsScratch;
        final boolean weightsFromForward;
        final IntMemoryMap dataArgs = new IntMemoryMap();
        final IntMemoryMap weightsArgs = new IntMemoryMap();

        Backward(ConvolutionPlan p) {
            ConvolutionShape k = p.key;
            dataPd = dataDesc(k, p.variant, p.fwdPd, p.variant.backwardData(k));
            weightsPd = weightsDesc(k, p.variant, p.fwdPd, p.variant.backwardWeights(k));
            dataPrimitive = new convolution_backward_data(dataPd);
            weightsPrimitive = new convolution_backward_weights(weightsPd);
            memory.desc srcPlain = plainDesc(k.src(), memory.format_tag.nchw);
            memory.desc dstPlain = plainDesc(k.dst(), memory.format_tag.nchw);
            memory.desc wPlain = plainDesc(k.weights(), memory.format_tag.oihw);
            diffDstData = new PrimitiveArgument(dstPlain, dataPd.diff_dst_desc(), OneDnn.Slot.DIFF_DST, true, false);
            diffDstWeights = weightsPd.diff_dst_desc().equals(dataPd.diff_dst_desc()) ? null
                    : new PrimitiveArgument(dstPlain, weightsPd.diff_dst_desc(), OneDnn.Slot.DIFF_DST_WEIGHTS, true, false);
            srcWeights = new PrimitiveArgument(srcPlain, weightsPd.src_desc(), OneDnn.Slot.SRC, true, false);
            weights = new PrimitiveArgument(wPlain, dataPd.weights_desc(), OneDnn.Slot.WEIGHTS, true, false);
            diffSrc = new PrimitiveArgument(srcPlain, dataPd.diff_src_desc(), OneDnn.Slot.DIFF_SRC, false, true);
            diffWeights = new PrimitiveArgument(wPlain, weightsPd.diff_weights_desc(), OneDnn.Slot.DIFF_WEIGHTS, false, true);
            diffBias = k.bias() ? OneDnn.unbound(plainDesc(new long[] {k.oc()}, memory.format_tag.x)) : null;
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
            if (k.bias()) {
                weightsArgs.put(dnnl.DNNL_ARG_DIFF_BIAS, diffBias);
            }
            if (weightsScratch != null) {
                weightsArgs.put(dnnl.DNNL_ARG_SCRATCHPAD, weightsScratch);
            }
        }

        private static convolution_backward_data.primitive_desc dataDesc(
                ConvolutionShape k, ConvolutionVariant v, convolution_forward.primitive_desc hint, dnnl.algorithm algorithm) {
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
                ConvolutionShape k, ConvolutionVariant v, convolution_forward.primitive_desc hint, dnnl.algorithm algorithm) {
            memory.desc src = activationDesc(k.src(), v);
            memory.desc dst = activationDesc(k.dst(), v);
            var d = k.bias()
                    ? new convolution_backward_weights.desc(algorithm, src, anyDesc(k.weights()),
                    plainDesc(new long[] {k.oc()}, memory.format_tag.x), dst, k.strides(), k.padL(), k.padR())
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

    private static memory.desc activationDesc(long[] dims, ConvolutionVariant v) {
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
