package org.zoo4j.data;

import java.util.SplittableRandom;

/**
 * Applies an {@link AugmentConfig} to CHW float images. All five steps are geometric, so one image's steps compose
 * into a single affine map that is applied in one bilinear pass (pixels from outside the image are 0). The same code
 * serves in-memory arrays and decoded image files, so both get identical results for identical inputs and seeds.
 */
public final class Augmenter {
    private final AugmentConfig config;

    public Augmenter(AugmentConfig config) {
        this.config = config;
    }

    public AugmentConfig config() {
        return config;
    }

    /**
     * One image's drawn augmentation, in the order applied.
     *
     * @param angle   rotation in degrees, counter-clockwise as seen, about the image centre
     * @param shiftX  translation in pixels, positive to the right
     * @param shiftY  translation in pixels, positive downwards
     * @param scale   zoom factor about the image centre (above 1 enlarges)
     * @param flip    whether the image is mirrored left-right
     * @param cropX   pad-and-crop offset in whole pixels (the content moves by this much), x
     * @param cropY   pad-and-crop offset in whole pixels, y
     */
    public record Params(double angle, double shiftX, double shiftY, double scale, boolean flip, int cropX, int cropY) {
        public static final Params IDENTITY = new Params(0, 0, 0, 1, false, 0, 0);

        public boolean isIdentity() {
            return angle == 0 && shiftX == 0 && shiftY == 0 && scale == 1 && !flip && cropX == 0 && cropY == 0;
        }

        /**
         * The map from output pixel coordinates back to input coordinates, as {a, b, c, d, e, f} with
         * {@code x_in = a*x + b*y + c}, {@code y_in = d*x + e*y + f}; pixel (0,0) is the top-left pixel's centre.
         */
        double[] inverse(int height, int width) {
            double cx = (width - 1) / 2.0;
            double cy = (height - 1) / 2.0;
            // Forward map, step by step, as a 2x3 matrix [m0 m1 m2; m3 m4 m5] (identity to start).
            double[] m = {1, 0, 0, 0, 1, 0};
            if (angle != 0) {
                double t = Math.toRadians(angle);
                double cos = Math.cos(t);
                double sin = Math.sin(t);
                // y grows downwards, so a counter-clockwise turn as seen is (x, y) -> (x cos + y sin, -x sin + y cos).
                m = then(m, about(new double[] {cos, sin, 0, -sin, cos, 0}, cx, cy));
            }
            if (shiftX != 0 || shiftY != 0) {
                m = then(m, new double[] {1, 0, shiftX, 0, 1, shiftY});
            }
            if (scale != 1) {
                m = then(m, about(new double[] {scale, 0, 0, 0, scale, 0}, cx, cy));
            }
            if (flip) {
                m = then(m, new double[] {-1, 0, width - 1, 0, 1, 0});
            }
            if (cropX != 0 || cropY != 0) {
                m = then(m, new double[] {1, 0, cropX, 0, 1, cropY});
            }
            double det = m[0] * m[4] - m[1] * m[3];
            return new double[] {
                m[4] / det, -m[1] / det, (m[1] * m[5] - m[4] * m[2]) / det,
                -m[3] / det, m[0] / det, (m[3] * m[2] - m[0] * m[5]) / det};
        }

        /** A linear map applied about (cx, cy) instead of the origin. */
        private static double[] about(double[] linear, double cx, double cy) {
            return new double[] {
                linear[0], linear[1], cx - linear[0] * cx - linear[1] * cy,
                linear[3], linear[4], cy - linear[3] * cx - linear[4] * cy};
        }

        /** {@code next} after {@code first}. */
        private static double[] then(double[] first, double[] next) {
            return new double[] {
                next[0] * first[0] + next[1] * first[3], next[0] * first[1] + next[1] * first[4],
                next[0] * first[2] + next[1] * first[5] + next[2],
                next[3] * first[0] + next[4] * first[3], next[3] * first[1] + next[4] * first[4],
                next[3] * first[2] + next[4] * first[5] + next[5]};
        }
    }

    /** Draws one image's augmentation; the number of draws is fixed, so later images do not depend on earlier ones. */
    public Params sample(SplittableRandom rng, int height, int width) {
        double[] u = new double[12];
        for (int i = 0; i < u.length; i++) {
            u[i] = rng.nextDouble();
        }
        double angle = config.rotates() && u[0] < config.rotateProbability() ? (2 * u[1] - 1) * config.rotate() : 0;
        boolean shifts = config.translates() && u[2] < config.translateProbability();
        double shiftX = shifts ? (2 * u[3] - 1) * config.translate() * width : 0;
        double shiftY = shifts ? (2 * u[4] - 1) * config.translate() * height : 0;
        double scale = config.scales() && u[5] < config.scaleProbability()
                ? config.scaleMin() + u[6] * (config.scaleMax() - config.scaleMin()) : 1;
        boolean flip = u[7] < config.flip();
        boolean crops = config.crops() && u[8] < config.cropProbability();
        int span = 2 * config.crop() + 1;
        int cropX = crops ? Math.min(span - 1, (int) (u[9] * span)) - config.crop() : 0;
        int cropY = crops ? Math.min(span - 1, (int) (u[10] * span)) - config.crop() : 0;
        return new Params(angle, shiftX, shiftY, scale, flip, cropX, cropY);
    }

    /**
     * Writes {@code src} (CHW, {@code channels x height x width} values from {@code srcOffset}) transformed by
     * {@code params} into {@code dst} from {@code dstOffset}.
     */
    public static void apply(Params params, float[] src, int srcOffset, float[] dst, int dstOffset, int channels,
                             int height, int width) {
        int plane = height * width;
        if (params.isIdentity()) {
            System.arraycopy(src, srcOffset, dst, dstOffset, channels * plane);
            return;
        }
        double[] inv = params.inverse(height, width);
        for (int y = 0; y < height; y++) {
            double sxRow = inv[1] * y + inv[2];
            double syRow = inv[4] * y + inv[5];
            for (int x = 0; x < width; x++) {
                double sx = inv[0] * x + sxRow;
                double sy = inv[3] * x + syRow;
                int out = dstOffset + y * width + x;
                // Snap values within rounding error of a pixel centre, so whole-pixel moves and right-angle turns
                // copy pixels exactly.
                double rx = Math.rint(sx);
                double ry = Math.rint(sy);
                if (Math.abs(sx - rx) < 1e-6) {
                    sx = rx;
                }
                if (Math.abs(sy - ry) < 1e-6) {
                    sy = ry;
                }
                if (!(sx > -1 && sx < width && sy > -1 && sy < height)) {
                    for (int c = 0; c < channels; c++) {
                        dst[out + c * plane] = 0f;
                    }
                    continue;
                }
                int x0 = (int) Math.floor(sx);
                int y0 = (int) Math.floor(sy);
                float fx = (float) (sx - x0);
                float fy = (float) (sy - y0);
                boolean inX0 = x0 >= 0;
                boolean inX1 = x0 + 1 < width && fx != 0;
                boolean inY0 = y0 >= 0;
                boolean inY1 = y0 + 1 < height && fy != 0;
                float w00 = inX0 && inY0 ? (1 - fx) * (1 - fy) : 0;
                float w01 = inX1 && inY0 ? fx * (1 - fy) : 0;
                float w10 = inX0 && inY1 ? (1 - fx) * fy : 0;
                float w11 = inX1 && inY1 ? fx * fy : 0;
                int i00 = y0 * width + x0;
                for (int c = 0; c < channels; c++) {
                    int base = srcOffset + c * plane + i00;
                    float v = 0;
                    if (w00 != 0) {
                        v += w00 * src[base];
                    }
                    if (w01 != 0) {
                        v += w01 * src[base + 1];
                    }
                    if (w10 != 0) {
                        v += w10 * src[base + width];
                    }
                    if (w11 != 0) {
                        v += w11 * src[base + width + 1];
                    }
                    dst[out + c * plane] = v;
                }
            }
        }
    }
}
