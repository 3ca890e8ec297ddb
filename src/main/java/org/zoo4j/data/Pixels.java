package org.zoo4j.data;

import org.zoo4j.base.InputShape;

/** Channel conversion and resizing of CHW float images. */
final class Pixels {
    private Pixels() {
    }

    /** ITU-R BT.601 luma weights (as OpenCV uses for RGB to grey). */
    private static final float RED = 0.299f, GREEN = 0.587f, BLUE = 0.114f;

    /** Writes {@code src} (shape {@code from}) converted to {@code to}: size first, then channels. */
    static void convert(float[] src, int srcOffset, InputShape from, float[] dst, int dstOffset, InputShape to) {
        int c = from.channels();
        float[] sized;
        int sizedOffset;
        if (from.height() == to.height() && from.width() == to.width()) {
            sized = src;
            sizedOffset = srcOffset;
        } else {
            sized = new float[c * to.height() * to.width()];
            sizedOffset = 0;
            for (int ch = 0; ch < c; ch++) {
                resizePlane(src, srcOffset + ch * from.height() * from.width(), from.height(), from.width(),
                        sized, ch * to.height() * to.width(), to.height(), to.width());
            }
        }
        convertChannels(sized, sizedOffset, c, dst, dstOffset, to.channels(), to.height() * to.width());
    }

    /** Copies, replicates (1 to n) or averages by luminance (3 to 1) channels; other conversions are errors. */
    static void convertChannels(float[] src, int srcOffset, int from, float[] dst, int dstOffset, int to, int plane) {
        if (from == to) {
            System.arraycopy(src, srcOffset, dst, dstOffset, from * plane);
        } else if (from == 1) {
            for (int ch = 0; ch < to; ch++) {
                System.arraycopy(src, srcOffset, dst, dstOffset + ch * plane, plane);
            }
        } else if (from == 3 && to == 1) {
            for (int i = 0; i < plane; i++) {
                dst[dstOffset + i] = RED * src[srcOffset + i] + GREEN * src[srcOffset + plane + i]
                        + BLUE * src[srcOffset + 2 * plane + i];
            }
        } else {
            throw new DataException("cannot convert images with " + from + " channels to " + to
                    + " channels; the model's input needs 1 (grey) or 3 (RGB) channels here");
        }
    }

    /**
     * Bilinear resize of one plane with pixel centres aligned (as OpenCV's INTER_LINEAR), edges repeated.
     */
    static void resizePlane(float[] src, int srcOffset, int sh, int sw, float[] dst, int dstOffset, int dh, int dw) {
        double scaleY = (double) sh / dh;
        double scaleX = (double) sw / dw;
        for (int y = 0; y < dh; y++) {
            double sy = Math.max(0, (y + 0.5) * scaleY - 0.5);
            int y0 = Math.min((int) sy, sh - 1);
            int y1 = Math.min(y0 + 1, sh - 1);
            float fy = (float) (sy - y0);
            for (int x = 0; x < dw; x++) {
                double sx = Math.max(0, (x + 0.5) * scaleX - 0.5);
                int x0 = Math.min((int) sx, sw - 1);
                int x1 = Math.min(x0 + 1, sw - 1);
                float fx = (float) (sx - x0);
                float top = src[srcOffset + y0 * sw + x0] * (1 - fx) + src[srcOffset + y0 * sw + x1] * fx;
                float bottom = src[srcOffset + y1 * sw + x0] * (1 - fx) + src[srcOffset + y1 * sw + x1] * fx;
                dst[dstOffset + y * dw + x] = top * (1 - fy) + bottom * fy;
            }
        }
    }
}
