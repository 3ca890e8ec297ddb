package org.zoo4j.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.datavec.image.loader.NativeImageLoader;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.zoo4j.base.InputShape;

/**
 * Reads single image files (PNG, JPEG, BMP) the way training reads image folders: decoded and resized by DataVec
 * (OpenCV), channels in the zoo's order. OpenCV decodes colour as BGR; the zoo's convention is RGB, the order of
 * CIFAR-10's files and of torchvision's weights, so colour planes are swapped here, once, for every reader.
 */
public final class ImageFiles {
    private ImageFiles() {
    }

    /** {@code file} as a [1, C, H, W] float array of 0-255 values in RGB order (grey for one channel). */
    public static INDArray read(Path file, InputShape shape) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new DataException(file + ": no such file (an image file)");
        }
        float[] rgb = new float[shape.channels() * shape.height() * shape.width()];
        try {
            ImageDecoding.PngHeader png = ImageDecoding.pngHeader(file);
            if (png != null && png.needsOwnDecoder()) {
                ImageDecoding.decodeWithJdk(file, shape, rgb, 0);
            } else {
                INDArray decoded = new NativeImageLoader(shape.height(), shape.width(), shape.channels())
                        .asMatrix(file.toFile());
                bgrToRgb(decoded.castTo(DataType.FLOAT).data().asFloat(), shape, rgb, 0);
            }
        } catch (IOException | RuntimeException | LinkageError e) {
            // OpenCV falls back to Leptonica for what it cannot decode, and Leptonica is not shipped: its
            // LinkageError ("no jnilept") means "not an image OpenCV can decode".
            throw new DataException(file + ": not a decodable image (PNG, JPEG or BMP): "
                    + (e instanceof LinkageError || e.getMessage() == null ? "the decoder cannot read it"
                    : e.getMessage()), e);
        }
        return Nd4j.create(rgb, new long[] {1, shape.channels(), shape.height(), shape.width()});
    }

    /** Copies one decoded image (C, H, W planes as OpenCV gives them) into {@code dst} in the zoo's channel order. */
    static void bgrToRgb(float[] decoded, InputShape shape, float[] dst, int offset) {
        int plane = shape.height() * shape.width();
        if (shape.channels() == 3) {
            System.arraycopy(decoded, 2 * plane, dst, offset, plane);
            System.arraycopy(decoded, plane, dst, offset + plane, plane);
            System.arraycopy(decoded, 0, dst, offset + 2 * plane, plane);
        } else {
            System.arraycopy(decoded, 0, dst, offset, shape.channels() * plane);
        }
    }
}
