package org.zoo4j.visual;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import javax.imageio.ImageIO;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.zoo4j.base.AtomicFiles;
import org.zoo4j.base.ConfigException;

/**
 * Grids of small images (kernels, feature maps, inputs) as one picture: each tile is scaled to 0-255 by its own minimum
 * and maximum (so that a weak feature map is as visible as a strong one), enlarged by nearest neighbour (so that a 5x5
 * kernel shows as 5x5 squares, not a blur) and separated from its neighbours by a dark margin.
 */
public final class Mosaic {
    /** Background and margin colour: dark grey, distinct from a tile's black. */
    private static final int BACKGROUND = 0x303030;
    /** A constant tile has no contrast to show; it is drawn mid grey. */
    private static final int FLAT = 128;

    /**
     * One tile: {@code channels} planes of {@code height} x {@code width} values, CHW order, any range.
     * One channel is drawn grey, three as RGB. {@code lo} and {@code hi} are the values drawn black and white; NaN
     * (the usual case) takes the tile's own minimum and maximum.
     */
    public record Tile(float[] chw, int channels, int height, int width, float lo, float hi) {
        public Tile(float[] chw, int channels, int height, int width) {
            this(chw, channels, height, width, Float.NaN, Float.NaN);
        }

        public Tile {
            if (channels != 1 && channels != 3) {
                throw new ConfigException("a tile has 1 (grey) or 3 (RGB) channels, got " + channels);
            }
            if (chw.length != channels * height * width) {
                throw new ConfigException("tile data has " + chw.length + " values, expected "
                        + channels + "x" + height + "x" + width);
            }
        }

        /** A grey tile of a [H, W] array. */
        public static Tile grey(INDArray plane) {
            return new Tile(plane.castTo(DataType.FLOAT).dup('c').data().asFloat(), 1, (int) plane.size(0),
                    (int) plane.size(1));
        }

        /** A tile of a [C, H, W] array with 1 or 3 channels. */
        public static Tile image(INDArray chw) {
            return new Tile(chw.castTo(DataType.FLOAT).dup('c').data().asFloat(), (int) chw.size(0), (int) chw.size(1),
                    (int) chw.size(2));
        }

        /** This tile drawn with {@code lo} as black and {@code hi} as white (to share one scale among tiles). */
        public Tile range(float lo, float hi) {
            return new Tile(chw, channels, height, width, lo, hi);
        }
    }

    private Mosaic() {
    }

    /** One grey tile per channel of a [C, H, W] array (feature maps), in channel order. */
    public static List<Tile> channels(INDArray chw) {
        if (chw.rank() != 3) {
            throw new ConfigException("expected a [C, H, W] array, got shape " + Arrays.toString(chw.shape()));
        }
        List<Tile> tiles = new ArrayList<>();
        for (int c = 0; c < chw.size(0); c++) {
            tiles.add(Tile.grey(chw.slice(c)));
        }
        return tiles;
    }

    /**
     * The tiles in rows of {@code columns}, each enlarged {@code zoom} times, with a {@code margin}-pixel border between
     * and around them. Tiles may differ in size; each cell is as large as the largest tile.
     */
    public static BufferedImage grid(List<Tile> tiles, int columns, int zoom, int margin) {
        if (tiles.isEmpty()) {
            throw new ConfigException("nothing to draw: no tiles");
        }
        if (columns < 1 || zoom < 1 || margin < 0) {
            throw new ConfigException("columns and zoom must be at least 1 and margin at least 0");
        }
        int cellH = tiles.stream().mapToInt(Tile::height).max().orElseThrow() * zoom;
        int cellW = tiles.stream().mapToInt(Tile::width).max().orElseThrow() * zoom;
        int cols = Math.min(columns, tiles.size());
        int rows = (tiles.size() + cols - 1) / cols;
        BufferedImage out = new BufferedImage(cols * (cellW + margin) + margin, rows * (cellH + margin) + margin,
                BufferedImage.TYPE_INT_RGB);
        fill(out, BACKGROUND);
        for (int i = 0; i < tiles.size(); i++) {
            draw(out, tiles.get(i), zoom, margin + (i % cols) * (cellW + margin), margin + (i / cols) * (cellH + margin));
        }
        return out;
    }

    /** A grid with about as many columns as rows. */
    public static BufferedImage grid(List<Tile> tiles, int zoom) {
        return grid(tiles, (int) Math.ceil(Math.sqrt(tiles.size())), zoom, Math.max(1, zoom / 2));
    }

    /** Writes {@code image} as a PNG, atomically. */
    public static void writePng(BufferedImage image, Path out) throws IOException {
        Path parent = out.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        AtomicFiles.write(out, stream -> {
            if (!ImageIO.write(image, "png", stream)) {
                throw new IOException("no PNG writer in this Java");
            }
        });
    }

    /** Number of distinct pixel values (RGB) in an image: 1 means blank. */
    public static int distinctColours(BufferedImage image) {
        Set<Integer> seen = new HashSet<>();
        for (int y = 0; y < image.getHeight(); y++) {
            for (int x = 0; x < image.getWidth(); x++) {
                seen.add(image.getRGB(x, y) & 0xFFFFFF);
            }
        }
        return seen.size();
    }

    private static void draw(BufferedImage out, Tile t, int zoom, int left, int top) {
        int plane = t.height() * t.width();
        float min = t.lo(), max = t.hi();
        if (Float.isNaN(min) || Float.isNaN(max)) {
            min = Float.POSITIVE_INFINITY;
            max = Float.NEGATIVE_INFINITY;
            for (float v : t.chw()) {
                if (Float.isFinite(v)) {
                    min = Math.min(min, v);
                    max = Math.max(max, v);
                }
            }
        }
        float range = max - min;
        for (int y = 0; y < t.height(); y++) {
            for (int x = 0; x < t.width(); x++) {
                int i = y * t.width() + x;
                int r = level(t.chw()[i], min, range);
                int g = t.channels() == 3 ? level(t.chw()[plane + i], min, range) : r;
                int b = t.channels() == 3 ? level(t.chw()[2 * plane + i], min, range) : r;
                int rgb = (r << 16) | (g << 8) | b;
                for (int dy = 0; dy < zoom; dy++) {
                    for (int dx = 0; dx < zoom; dx++) {
                        out.setRGB(left + x * zoom + dx, top + y * zoom + dy, rgb);
                    }
                }
            }
        }
    }

    private static int level(float v, float min, float range) {
        if (!(range > 0) || !Float.isFinite(v)) {
            return FLAT;
        }
        return Math.max(0, Math.min(255, Math.round(255 * (v - min) / range)));
    }

    private static void fill(BufferedImage image, int rgb) {
        for (int y = 0; y < image.getHeight(); y++) {
            for (int x = 0; x < image.getWidth(); x++) {
                image.setRGB(x, y, rgb);
            }
        }
    }
}
