package org.zoo4j.data;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;
import javax.imageio.ImageIO;

/** Small generated datasets for tests. */
final class Fixtures {
    private Fixtures() {
    }

    /** idx bytes: header for {@code dims}, then {@code data}. */
    static byte[] idx(int[] dims, byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(4 + 4 * dims.length + data.length);
        b.put((byte) 0).put((byte) 0).put((byte) 8).put((byte) dims.length);
        for (int d : dims) {
            b.putInt(d);
        }
        b.put(data);
        return b.array();
    }

    static byte[] gzip(byte[] data) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (OutputStream gz = new GZIPOutputStream(out)) {
            gz.write(data);
        }
        return out.toByteArray();
    }

    /** Image i of class c: value (7 * i + 13 * c + x + y) mod 256 at (x, y), per channel offset 50 * channel. */
    static int pixel(int i, int c, int channel, int x, int y) {
        return (7 * i + 13 * c + x + 2 * y + 50 * channel) & 0xFF;
    }

    /** Writes train/test idx files (gzipped) of {@code n} and {@code m} 8x8 images, labels i mod 10. */
    static void idxDataset(Path dir, int n, int m) throws IOException {
        Files.createDirectories(dir);
        for (String split : new String[] {"train", "t10k"}) {
            int count = split.equals("train") ? n : m;
            byte[] pixels = new byte[count * 64];
            byte[] labels = new byte[count];
            for (int i = 0; i < count; i++) {
                labels[i] = (byte) (i % 10);
                for (int y = 0; y < 8; y++) {
                    for (int x = 0; x < 8; x++) {
                        pixels[i * 64 + y * 8 + x] = (byte) pixel(i, i % 10, 0, x, y);
                    }
                }
            }
            Files.write(dir.resolve(split + "-images-idx3-ubyte.gz"), gzip(idx(new int[] {count, 8, 8}, pixels)));
            Files.write(dir.resolve(split + "-labels-idx1-ubyte.gz"), gzip(idx(new int[] {count}, labels)));
        }
    }

    /** Writes CIFAR-10 binary batches: five training files of {@code perFile} images and a test file of as many. */
    static void cifarDataset(Path dir, int perFile) throws IOException {
        Files.createDirectories(dir);
        int index = 0;
        for (int f = 1; f <= 6; f++) {
            byte[] bytes = new byte[perFile * CifarBinary.RECORD_BYTES];
            for (int r = 0; r < perFile; r++, index++) {
                int label = index % 10;
                int at = r * CifarBinary.RECORD_BYTES;
                bytes[at] = (byte) label;
                for (int ch = 0; ch < 3; ch++) {
                    for (int y = 0; y < 32; y++) {
                        for (int x = 0; x < 32; x++) {
                            bytes[at + 1 + ch * 1024 + y * 32 + x] = (byte) pixel(index, label, ch, x, y);
                        }
                    }
                }
            }
            Files.write(dir.resolve(f <= 5 ? "data_batch_" + f + ".bin" : "test_batch.bin"), bytes);
        }
    }

    /** An RGB image of size w x h with {@link #pixel} values for image i of class c. */
    static BufferedImage rgbImage(int i, int c, int w, int h) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                img.setRGB(x, y, (pixel(i, c, 0, x, y) << 16) | (pixel(i, c, 1, x, y) << 8) | pixel(i, c, 2, x, y));
            }
        }
        return img;
    }

    /** A class folder tree: {@code perClass} images per class in PNG, JPEG and BMP (rotating), 16x16 RGB. */
    static void imageFolder(Path root, String[] classes, int perClass) throws IOException {
        String[] formats = {"png", "jpg", "bmp"};
        for (int c = 0; c < classes.length; c++) {
            Path dir = Files.createDirectories(root.resolve(classes[c]));
            for (int i = 0; i < perClass; i++) {
                String format = formats[i % formats.length];
                ImageIO.write(rgbImage(i, c, 16, 16), format, dir.resolve("img" + i + "." + format).toFile());
            }
        }
    }
}
