package org.zoo4j.runtime;

import org.bytedeco.dnnl.memory;
import org.bytedeco.dnnl.primitive;
import org.bytedeco.dnnl.reorder;
import org.bytedeco.dnnl.stream;

/**
 * One tensor argument of a primitive: the user's plain array and, where the primitive's layout differs, a copy in
 * that layout in a per-thread scratch buffer, with the reorders between them.
 */
final class PrimitiveArgument {
    final memory user;
    final memory inner;
    final reorder toInner;
    final reorder toUser;
    final OneDnn.Slot slot;
    final long innerBytes;
    private final long userBytes;
    final memory.desc innerDesc;
    /** The scratch buffer the blocked copy was last bound to (null: a handed one). */
    private OneDnn.Slot boundSlot;

    PrimitiveArgument(memory.desc userDesc, memory.desc innerDesc, OneDnn.Slot slot, boolean read, boolean written) {
        this.user = OneDnn.unbound(userDesc);
        boolean same = innerDesc.equals(userDesc);
        this.inner = same ? user : OneDnn.unbound(innerDesc);
        this.toInner = same || !read ? null : new reorder(user, inner);
        this.toUser = same || !written ? null : new reorder(inner, user);
        this.slot = slot;
        this.innerBytes = innerDesc.get_size();
        this.userBytes = userDesc.get_size();
        this.innerDesc = innerDesc;
    }

    boolean reordered() {
        return inner != user;
    }

    /** Binds the user's array and the scratch buffer, and reorders the array in if it is read. */
    void bind(long userAddress, OneDnn.Address address, OneDnn.Scratch scratch, stream s) {
        bind(userAddress, address, scratch, s, slot);
    }

    /** {@link #bind}, with the blocked copy in scratch buffer {@code in} (another call's was handed in this's). */
    void bind(long userAddress, OneDnn.Address address, OneDnn.Scratch scratch, stream s, OneDnn.Slot in) {
        user.set_data_handle(address.at(userAddress));
        boundSlot = in;
        if (inner != user) {
            inner.set_data_handle(address.at(scratch.buffer(in, innerBytes)));
            if (toInner != null) {
                long t = ConvolutionProfile.begin();
                toInner.execute(s, user, inner);
                ConvolutionProfile.add(slot == OneDnn.Slot.WEIGHTS ? ConvolutionProfile.Part.WEIGHT_REORDERS
                        : ConvolutionProfile.Part.ACTIVATION_REORDERS, t);
            }
        }
    }

    /**
     * Binds the user's array and, as the blocked copy, {@code blocked}: the array in this argument's layout already,
     * handed on by the previous call ({@link OneDnn.Scratch#take}); no reorder.
     */
    void bindHanded(long userAddress, OneDnn.Address address, long blocked) {
        user.set_data_handle(address.at(userAddress));
        inner.set_data_handle(address.at(blocked));
        boundSlot = null;
    }

    /** Whether the primitive's layout differs from the user's and takes exactly as many bytes (channels in whole blocks). */
    boolean sameBytesAsUser() {
        return inner != user && innerBytes == userBytes;
    }

    /**
     * Binds the primitive's argument to the user's array itself, which holds (or is to hold) this argument's layout in
     * place of the plain one ({@link OneDnn.Link}); no reorder either way.
     */
    void bindInPlace(long userAddress, OneDnn.Address address) {
        bindHanded(userAddress, address, userAddress);
    }

    /** Leaves this argument's blocked result for the next call on the thread, after {@link #writeBack}. */
    void hand(long userAddress, OneDnn.Scratch scratch, OneDnn.Link link) {
        if (link != null && inner != user && toUser != null && boundSlot != null) {
            scratch.hand(boundSlot, userAddress, innerDesc, link);
        }
    }

    /** Reorders the result back into the user's array, if it is written in another layout. */
    void writeBack(stream s) {
        if (toUser != null) {
            long t = ConvolutionProfile.begin();
            toUser.execute(s, inner, user);
            ConvolutionProfile.add(slot == OneDnn.Slot.DIFF_WEIGHTS ? ConvolutionProfile.Part.WEIGHT_REORDERS
                    : ConvolutionProfile.Part.ACTIVATION_REORDERS, t);
        }
    }
}
