package org.zoo4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class AugmenterTest {
    private static final int H = 28, W = 28;

    /** An asymmetric test picture: a bright rectangle plus a marker pixel, so any turn or mirror shows. */
    private static float[] picture() {
        float[] img = new float[H * W];
        for (int y = 6; y < 14; y++) {
            for (int x = 5; x < 19; x++) {
                img[y * W + x] = 200;
            }
        }
        img[20 * W + 3] = 255;
        return img;
    }

    private static float[] apply(Augmenter.Params p, float[] src) {
        float[] out = new float[src.length];
        Augmenter.apply(p, src, 0, out, 0, 1, H, W);
        return out;
    }

    private static double[] centreOfMass(float[] img) {
        double m = 0, sx = 0, sy = 0;
        for (int y = 0; y < H; y++) {
            for (int x = 0; x < W; x++) {
                float v = img[y * W + x];
                m += v;
                sx += v * x;
                sy += v * y;
            }
        }
        return new double[] {sx / m, sy / m, m};
    }

    /**
     * Width (horizontal) or height of a bright object through the image centre, in pixels: the centre row's (or
     * column's) brightness summed and divided by the object's brightness, so partly covered edge pixels count in part.
     */
    private static double extent(float[] img, boolean horizontal) {
        double sum = 0;
        for (int a = 0; a < (horizontal ? W : H); a++) {
            sum += horizontal ? img[(H / 2) * W + a] : img[a * W + W / 2];
        }
        return sum / 255;
    }

    @Test
    void rotationBy90DegreesMatchesTheRotatedArray() {
        float[] src = picture();
        float[] turned = apply(new Augmenter.Params(90, 0, 0, 1, false, 0, 0), src);
        // Counter-clockwise as seen: output(y, x) = input(x, W-1-y) for a square image.
        float[] expected = new float[H * W];
        for (int y = 0; y < H; y++) {
            for (int x = 0; x < W; x++) {
                expected[y * W + x] = src[x * W + (W - 1 - y)];
            }
        }
        assertArrayEquals(expected, turned, 1e-3f);
        float[] back = apply(new Augmenter.Params(-90, 0, 0, 1, false, 0, 0), turned);
        assertArrayEquals(src, back, 1e-3f);
    }

    @Test
    void translationMovesTheCentreOfMassByTheShift() {
        float[] src = picture();
        double[] before = centreOfMass(src);
        float[] moved = apply(new Augmenter.Params(0, 3.5, -2.25, 1, false, 0, 0), src);
        double[] after = centreOfMass(moved);
        assertEquals(before[0] + 3.5, after[0], 1e-3);
        assertEquals(before[1] - 2.25, after[1], 1e-3);
        assertEquals(before[2], after[2], before[2] * 1e-5, "nothing leaves the image, so the mass stays");
    }

    @Test
    void scalingChangesTheObjectsExtentByTheFactor() {
        float[] square = new float[H * W];
        for (int y = 9; y < 19; y++) {
            for (int x = 9; x < 19; x++) {
                square[y * W + x] = 255;
            }
        }
        assertEquals(10, extent(square, true), 1e-9);
        float[] larger = apply(new Augmenter.Params(0, 0, 0, 1.5, false, 0, 0), square);
        assertEquals(15, extent(larger, true), 0.05);
        assertEquals(15, extent(larger, false), 0.05);
        assertEquals(5, extent(apply(new Augmenter.Params(0, 0, 0, 0.5, false, 0, 0), square), true), 0.05);
        double[] c = centreOfMass(apply(new Augmenter.Params(0, 0, 0, 1.5, false, 0, 0), square));
        assertEquals(13.5, c[0], 1e-3, "scaling is about the image centre");
    }

    @Test
    void flipMirrorsAndCropShiftsByWholePixelsWithZeroPadding() {
        float[] src = picture();
        float[] flipped = apply(new Augmenter.Params(0, 0, 0, 1, true, 0, 0), src);
        float[] cropped = apply(new Augmenter.Params(0, 0, 0, 1, false, 2, -3), src);
        for (int y = 0; y < H; y++) {
            for (int x = 0; x < W; x++) {
                assertEquals(src[y * W + (W - 1 - x)], flipped[y * W + x]);
                int sx = x - 2;
                int sy = y + 3;
                float expected = sx >= 0 && sx < W && sy >= 0 && sy < H ? src[sy * W + sx] : 0;
                assertEquals(expected, cropped[y * W + x], "at " + x + "," + y);
            }
        }
    }

    @Test
    void stepsComposeInOrderRotateThenTranslate() {
        float[] src = picture();
        Augmenter.Params both = new Augmenter.Params(90, 4, 0, 1, false, 0, 0);
        float[] stepwise = apply(new Augmenter.Params(0, 4, 0, 1, false, 0, 0),
                apply(new Augmenter.Params(90, 0, 0, 1, false, 0, 0), src));
        assertArrayEquals(stepwise, apply(both, src), 1e-3f);
    }

    @Test
    void samplingStaysInRangeAndRepeatsWithTheSeed() {
        Augmenter a = new Augmenter(AugmentConfig.parse("rotate=15,translate=0.1,scale=0.9:1.1,flip=0.5,crop=4"));
        SplittableRandom r1 = new SplittableRandom(5);
        SplittableRandom r2 = new SplittableRandom(5);
        int flips = 0;
        for (int i = 0; i < 2000; i++) {
            Augmenter.Params p = a.sample(r1, H, W);
            assertEquals(p, a.sample(r2, H, W));
            assertTrue(Math.abs(p.angle()) <= 15);
            assertTrue(Math.abs(p.shiftX()) <= 2.8 + 1e-9 && Math.abs(p.shiftY()) <= 2.8 + 1e-9);
            assertTrue(p.scale() >= 0.9 && p.scale() <= 1.1);
            assertTrue(Math.abs(p.cropX()) <= 4 && Math.abs(p.cropY()) <= 4);
            flips += p.flip() ? 1 : 0;
        }
        assertTrue(flips > 850 && flips < 1150, "flip=0.5 flips about half: " + flips);
        assertNotEquals(a.sample(new SplittableRandom(5), H, W), a.sample(new SplittableRandom(6), H, W));
    }

    @Test
    void probabilityZeroNeverAppliesAStep() {
        Augmenter a = new Augmenter(AugmentConfig.parse("rotate=30@0,translate=0.2@0,scale=0.5:2@0,crop=4@0"));
        SplittableRandom rng = new SplittableRandom(1);
        for (int i = 0; i < 200; i++) {
            assertTrue(a.sample(rng, H, W).isIdentity());
        }
        Augmenter half = new Augmenter(AugmentConfig.parse("rotate=30@0.5"));
        int turned = 0;
        for (int i = 0; i < 2000; i++) {
            turned += half.sample(rng, H, W).angle() != 0 ? 1 : 0;
        }
        assertTrue(turned > 850 && turned < 1150, "rotate@0.5 turns about half: " + turned);
    }

    @Test
    void appliesTheSameMapToEveryChannel() {
        float[] rgb = new float[3 * H * W];
        float[] grey = picture();
        for (int c = 0; c < 3; c++) {
            for (int i = 0; i < H * W; i++) {
                rgb[c * H * W + i] = grey[i] * (c + 1) / 3f;
            }
        }
        Augmenter.Params p = new Augmenter.Params(17, 1.3, -0.7, 1.08, true, 1, 2);
        float[] out = new float[rgb.length];
        Augmenter.apply(p, rgb, 0, out, 0, 3, H, W);
        float[] greyOut = apply(p, grey);
        for (int c = 0; c < 3; c++) {
            for (int i = 0; i < H * W; i++) {
                assertEquals(greyOut[i] * (c + 1) / 3f, out[c * H * W + i], 1e-3f);
            }
        }
    }
}
