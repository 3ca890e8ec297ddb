package org.zoo4j;

import java.util.Arrays;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Exact comparison of arrays, for tests that promise "bit-for-bit": {@code INDArray.equals} allows a difference of
 * 1e-5, which would let a frozen layer that drifted by rounding pass.
 */
public final class SameBits {
    private SameBits() {
    }

    /** Whether {@code a} and {@code b} have the same type, shape and values, compared as bits. */
    public static boolean same(INDArray a, INDArray b) {
        return a.dataType() == b.dataType() && Arrays.equals(a.shape(), b.shape())
                && Arrays.equals(a.dup('c').data().asBytes(), b.dup('c').data().asBytes());
    }
}
