package org.zoo4j.visual;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;
import org.zoo4j.base.ConfigException;

/**
 * Classic 3x3 image kernels. Like every deep-learning convolution, they are applied as cross-correlation (the kernel
 * is not flipped), so Sobel-x answers positively where the image gets brighter from left to right.
 */
public enum Kernel {
    /** Laplacian-style edge detector: zero on flat areas, strong on edges and corners of any direction. */
    EDGE(new float[] {-1, -1, -1, -1, 8, -1, -1, -1, -1}),
    /** Adds the edge response to the image: 5 times the centre minus its four neighbours. */
    SHARPEN(new float[] {0, -1, 0, -1, 5, -1, 0, -1, 0}),
    /** Binomial (Gaussian-like) blur, weights summing to 1. */
    BLUR(new float[] {1 / 16f, 2 / 16f, 1 / 16f, 2 / 16f, 4 / 16f, 2 / 16f, 1 / 16f, 2 / 16f, 1 / 16f}),
    /** Horizontal gradient (responds to vertical edges). */
    SOBEL_X(new float[] {-1, 0, 1, -2, 0, 2, -1, 0, 1}),
    /** Vertical gradient (responds to horizontal edges), brighter downwards is positive. */
    SOBEL_Y(new float[] {-1, -2, -1, 0, 0, 0, 1, 2, 1});

    private final float[] weights;

    Kernel(float[] weights) {
        this.weights = weights;
    }

    /** The 3x3 weights, row by row. */
    public float[] weights() {
        return weights.clone();
    }

    public int size() {
        return 3;
    }

    /** The command line's name: lower case with dashes, e.g. {@code sobel-x}. */
    public String cliName() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /** The kernel of a command-line name; an unknown name is an error listing the known ones. */
    public static Kernel of(String name) {
        for (Kernel k : values()) {
            if (k.cliName().equals(name) || k.name().equalsIgnoreCase(name)) {
                return k;
            }
        }
        throw new ConfigException("--kernel: unknown kernel '" + name + "'; known: "
                + Arrays.stream(values()).map(Kernel::cliName).collect(Collectors.joining(", ")));
    }
}
