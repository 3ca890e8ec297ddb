package org.zoo4j.visual;

import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;
import org.nd4j.enums.WeightsFormat;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.layers.convolution.config.Conv2DConfig;
import org.nd4j.linalg.api.ops.impl.layers.convolution.config.PaddingMode;
import org.nd4j.linalg.factory.Nd4j;
import org.zoo4j.base.ConfigException;
import org.zoo4j.data.DataException;

/**
 * One convolution by hand on a grey image: a named kernel, a stride and a zero padding, with the output size from
 * {@code (W - F + 2P)/S + 1}. The convolution itself is ND4J's conv2d op, the one DL4J's layers run.
 */
public final class ConvolutionDemo {
    /**
     * What one convolution produced.
     *
     * @param input  the grey input [H, W], pixel values 0 to 255
     * @param output the filtered image [H', W'], raw values (may be negative)
     * @param heightFormula the output height worked out, e.g. {@code (28 - 3 + 2*1)/2 + 1 = 14}
     * @param widthFormula  the same for the width
     */
    public record Result(INDArray input, INDArray output, String heightFormula, String widthFormula) {
        /** The input and the output side by side (each scaled to its own range), enlarged {@code zoom} times. */
        public BufferedImage picture(int zoom) {
            return Mosaic.grid(List.of(Mosaic.Tile.grey(input), Mosaic.Tile.grey(output)), 2, zoom,
                    Math.max(2, zoom));
        }
    }

    private ConvolutionDemo() {
    }

    /** The output size of a convolution or pooling: {@code (size - kernel + 2*padding)/stride + 1}, rounded down. */
    public static int outputSize(int size, int kernel, int stride, int padding) {
        if (stride < 1 || padding < 0 || kernel < 1) {
            throw new ConfigException("kernel and stride must be at least 1 and padding at least 0, got kernel "
                    + kernel + ", stride " + stride + ", padding " + padding);
        }
        if (size + 2 * padding < kernel) {
            throw new ConfigException("a " + kernel + "x" + kernel + " kernel does not fit in " + size
                    + " pixels with padding " + padding);
        }
        return (size - kernel + 2 * padding) / stride + 1;
    }

    /** The formula with its numbers, e.g. {@code (28 - 3 + 2*1)/2 + 1 = 14}. */
    public static String formula(int size, int kernel, int stride, int padding) {
        return String.format(Locale.ROOT, "(%d - %d + 2*%d)/%d + 1 = %d", size, kernel, padding, stride,
                outputSize(size, kernel, stride, padding));
    }

    /** Convolves a grey image [H, W] with a kernel [F, F] (cross-correlation, zero padding). */
    public static Result apply(INDArray grey, INDArray kernel, int stride, int padding) {
        if (grey.rank() != 2 || kernel.rank() != 2 || kernel.size(0) != kernel.size(1)) {
            throw new ConfigException("expected a grey image [H, W] and a square kernel [F, F]");
        }
        int h = (int) grey.size(0), w = (int) grey.size(1), f = (int) kernel.size(0);
        String hf = formula(h, f, stride, padding);
        String wf = formula(w, f, stride, padding);
        INDArray in = grey.castTo(DataType.FLOAT).reshape(1, 1, h, w);
        INDArray weights = kernel.castTo(DataType.FLOAT).reshape(1, 1, f, f);
        Conv2DConfig conf = Conv2DConfig.builder().kH(f).kW(f).sH(stride).sW(stride).pH(padding).pW(padding).dH(1).dW(1)
                .paddingMode(PaddingMode.VALID).dataFormat("NCHW").weightsFormat(WeightsFormat.OIYX).build();
        INDArray out = Nd4j.cnn().conv2d(in, weights, conf);
        return new Result(grey.castTo(DataType.FLOAT), out.reshape(out.size(2), out.size(3)), hf, wf);
    }

    /** Convolves with a named kernel. */
    public static Result apply(INDArray grey, Kernel kernel, int stride, int padding) {
        return apply(grey, Nd4j.create(kernel.weights(), new long[] {3, 3}, 'c'), stride, padding);
    }

    /** An image file as grey pixel values 0 to 255 [H, W] (ITU-R BT.601 luma for colour images), at its own size. */
    public static INDArray readGrey(Path image) throws IOException {
        if (!Files.isRegularFile(image)) {
            throw new DataException(image + ": no such file (an image file: PNG, JPEG or BMP)");
        }
        BufferedImage img = ImageIO.read(image.toFile());
        if (img == null) {
            throw new ConfigException(image + ": not an image Java can read (PNG, JPEG, BMP, GIF)");
        }
        // Samples straight from the raster where it holds grey or RGB values: getRGB() would pass grey images
        // through a colour-space conversion that changes their values.
        Raster raster = img.getRaster();
        boolean direct = !(img.getColorModel() instanceof IndexColorModel);
        int bands = raster.getNumBands();
        float[] v = new float[img.getHeight() * img.getWidth()];
        for (int y = 0; y < img.getHeight(); y++) {
            for (int x = 0; x < img.getWidth(); x++) {
                float r, g, b;
                if (direct && bands < 3) {
                    r = g = b = raster.getSample(x, y, 0);
                } else if (direct) {
                    r = raster.getSample(x, y, 0);
                    g = raster.getSample(x, y, 1);
                    b = raster.getSample(x, y, 2);
                } else {
                    int rgb = img.getRGB(x, y);
                    r = (rgb >> 16) & 0xFF;
                    g = (rgb >> 8) & 0xFF;
                    b = rgb & 0xFF;
                }
                v[y * img.getWidth() + x] = 0.299f * r + 0.587f * g + 0.114f * b;
            }
        }
        return Nd4j.create(v, new long[] {img.getHeight(), img.getWidth()}, 'c');
    }
}
