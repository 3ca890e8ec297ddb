package org.zoo4j.data;

import org.zoo4j.base.InputShape;

/** Labelled images that can be read one at a time, by index, at a requested shape. Safe for concurrent reads. */
interface ImageSource {
    /** Number of images. */
    int size();

    /** Class index of image {@code index}. */
    int label(int index);

    /**
     * Writes image {@code index} as CHW floats with pixel values 0 to 255, converted to {@code shape} (channels and
     * size), into {@code dst} from {@code offset}. Returns false, having warned once, when the image cannot be read.
     */
    boolean read(int index, InputShape shape, float[] dst, int offset);

    /** Where image {@code index} comes from, for messages. */
    String describe(int index);
}
