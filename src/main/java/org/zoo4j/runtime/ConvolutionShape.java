package org.zoo4j.runtime;


/** A convolution's shape: batch, channels, sizes, kernel, strides and padding (top, left, bottom, right). */
record ConvolutionShape(long n, long ic, long ih, long iw, long oc, long oh, long ow, long kh, long kw, long sh, long sw,
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
