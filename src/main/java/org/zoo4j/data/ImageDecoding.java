package org.zoo4j.data;

import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import javax.imageio.ImageIO;
import org.zoo4j.base.InputShape;

/**
 * What OpenCV (DataVec's decoder) gets wrong for training, handled here: a 16-bit PNG comes out as 0 to 65535, and a
 * PNG's transparency is dropped, so transparent pixels show whatever colour they hold. Such PNGs are decoded with the
 * JDK's PNG reader instead: 16-bit samples scaled to 0-255, colour composited over black (the colour augmentation
 * fills with too), then resized and converted to the requested channels as OpenCV would (bilinear, BT.601 luma).
 * Everything else (8-bit PNGs with or without a palette, JPEG with its EXIF orientation applied, BMP) stays with
 * DataVec.
 */
final class ImageDecoding {
    private static final byte[] PNG_SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

    private ImageDecoding() {
    }

    /** What a PNG's header says about its pixels. */
    record PngHeader(int bitDepth, int colorType, boolean transparency) {
        /** Whether OpenCV's decoding would be wrong for it: 16-bit samples, or an alpha channel or tRNS chunk. */
        boolean needsOwnDecoder() {
            return bitDepth == 16 || colorType == 4 || colorType == 6 || transparency;
        }
    }

    /** The PNG header of {@code file}, or null when it is not a PNG: IHDR, and whether a tRNS chunk precedes the data. */
    static PngHeader pngHeader(Path file) throws IOException {
        try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(file), 8192))) {
            byte[] signature = in.readNBytes(PNG_SIGNATURE.length);
            if (!Arrays.equals(signature, PNG_SIGNATURE)) {
                return null;
            }
            int bitDepth = -1;
            int colorType = -1;
            while (true) {
                int length = in.readInt();
                String type = new String(in.readNBytes(4), StandardCharsets.US_ASCII);
                if (type.equals("IHDR")) {
                    in.readInt(); // width
                    in.readInt(); // height
                    bitDepth = in.readUnsignedByte();
                    colorType = in.readUnsignedByte();
                    in.skipNBytes(length - 10 + 4); // the rest, and the CRC
                } else if (type.equals("tRNS") || type.equals("IDAT") || type.equals("IEND") || length < 0) {
                    return new PngHeader(bitDepth, colorType, type.equals("tRNS"));
                } else {
                    in.skipNBytes(length + 4L);
                }
            }
        } catch (EOFException e) {
            return null; // truncated: DataVec's decoder will say it cannot read it
        }
    }

    /**
     * Decodes {@code file} with the JDK into {@code dst} at {@code offset}: C, H, W planes of 0-255 values in RGB order
     * (grey for one channel), at {@code shape}.
     */
    static void decodeWithJdk(Path file, InputShape shape, float[] dst, int offset) throws IOException {
        BufferedImage image = ImageIO.read(file.toFile());
        if (image == null) {
            throw new IOException("not a decodable image");
        }
        Raster raster = image.getRaster();
        ColorModel colours = image.getColorModel();
        int h = image.getHeight();
        int w = image.getWidth();
        int plane = h * w;
        // Colour bands as stored (sRGB-encoded in a PNG): no colour-space conversion, which for grey would apply a
        // gamma curve. A palette gives its 8-bit entries.
        int bands = colours instanceof IndexColorModel ? 3 : colours.getNumColorComponents();
        float[] pixels = new float[bands * plane];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int at = y * w + x;
                if (colours instanceof IndexColorModel palette) {
                    int index = raster.getSample(x, y, 0);
                    float alpha = palette.getAlpha(index) / 255f;
                    pixels[at] = palette.getRed(index) * alpha;
                    pixels[plane + at] = palette.getGreen(index) * alpha;
                    pixels[2 * plane + at] = palette.getBlue(index) * alpha;
                } else {
                    float alpha = colours.hasAlpha() ? raster.getSample(x, y, bands) / max(raster, bands) : 1f;
                    for (int c = 0; c < bands; c++) {
                        pixels[c * plane + at] = 255f * raster.getSample(x, y, c) / max(raster, c) * alpha;
                    }
                }
            }
        }
        Pixels.convert(pixels, 0, InputShape.of(bands, h, w), dst, offset, shape);
    }

    /** The largest sample value of {@code band}: 255 for 8 bits, 65535 for 16. */
    private static float max(Raster raster, int band) {
        return (1 << raster.getSampleModel().getSampleSize(band)) - 1;
    }
}
