package org.zoo4j.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.zoo4j.base.InputShape;

/**
 * The CIFAR-10 binary format: records of one label byte followed by 32x32 red, then green, then blue bytes (already
 * CHW). Several batch files are read into one {@link ImageArray}.
 */
final class CifarBinary {
    static final InputShape SHAPE = InputShape.of(3, 32, 32);
    static final int IMAGE_BYTES = 3 * 32 * 32;
    static final int RECORD_BYTES = 1 + IMAGE_BYTES;

    private CifarBinary() {
    }

    static ImageArray read(String name, List<Path> files, int classCount) throws IOException {
        long total = 0;
        for (Path file : files) {
            long size = Files.size(file);
            if (size == 0 || size % RECORD_BYTES != 0) {
                throw new DataException(file + ": truncated or not a CIFAR-10 binary batch: " + size + " bytes is not a "
                        + "whole number of " + RECORD_BYTES + "-byte records (1 label byte + 3,072 pixel bytes); "
                        + "delete it and get the complete file again");
            }
            total += size / RECORD_BYTES;
        }
        if (total * IMAGE_BYTES > Integer.MAX_VALUE - 64) {
            throw new DataException(name + ": " + total + " CIFAR images are too many to hold in memory");
        }
        byte[] pixels = new byte[(int) total * IMAGE_BYTES];
        int[] labels = new int[(int) total];
        int n = 0;
        for (Path file : files) {
            byte[] bytes = Files.readAllBytes(file);
            for (int r = 0; r < bytes.length / RECORD_BYTES; r++, n++) {
                int label = bytes[r * RECORD_BYTES] & 0xFF;
                if (label >= classCount) {
                    throw new DataException(file + ": record " + r + " has label " + label + ", outside the "
                            + classCount + " classes (0 to " + (classCount - 1) + "); the file is corrupt or not CIFAR-10");
                }
                labels[n] = label;
                System.arraycopy(bytes, r * RECORD_BYTES + 1, pixels, n * IMAGE_BYTES, IMAGE_BYTES);
            }
        }
        return new ImageArray(name, SHAPE, pixels, labels);
    }
}
