package org.zoo4j.data;

import org.zoo4j.base.InputShape;

/**
 * Images held in memory as unsigned bytes, CHW per image, one after another (idx and CIFAR files). Reading converts
 * channels (grey to RGB by copying, RGB to grey by luminance) and resizes bilinearly when the model asks for another
 * shape.
 *
 * @param name   where the images came from, for messages
 * @param shape  every image's shape
 * @param pixels {@code size * C * H * W} unsigned bytes
 * @param labels class index of each image
 */
record ImageArray(String name, InputShape shape, byte[] pixels, int[] labels) implements ImageSource {

    ImageArray {
        long expected = (long) labels.length * shape.channels() * shape.height() * shape.width();
        if (pixels.length != expected) {
            throw new IllegalArgumentException(name + ": " + labels.length + " labels but " + pixels.length
                    + " pixel bytes for images of shape " + shape);
        }
    }

    @Override
    public int size() {
        return labels.length;
    }

    @Override
    public int label(int index) {
        return labels[index];
    }

    @Override
    public String describe(int index) {
        return name + " image " + index;
    }

    /** Image {@code index} at its own shape as unsigned bytes. */
    byte[] image(int index) {
        int n = shape.channels() * shape.height() * shape.width();
        byte[] out = new byte[n];
        System.arraycopy(pixels, index * n, out, 0, n);
        return out;
    }

    @Override
    public boolean read(int index, InputShape target, float[] dst, int offset) {
        int c = shape.channels();
        int n = c * shape.height() * shape.width();
        int start = index * n;
        if (target.equals(shape)) {
            for (int i = 0; i < n; i++) {
                dst[offset + i] = pixels[start + i] & 0xFF;
            }
            return true;
        }
        float[] own = new float[n];
        for (int i = 0; i < n; i++) {
            own[i] = pixels[start + i] & 0xFF;
        }
        Pixels.convert(own, 0, shape, dst, offset, target);
        return true;
    }
}
