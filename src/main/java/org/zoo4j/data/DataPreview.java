package org.zoo4j.data;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import javax.imageio.ImageIO;
import org.zoo4j.base.AtomicFiles;
import org.zoo4j.base.ConfigException;
import org.zoo4j.base.InputShape;

/**
 * A picture of what augmentation does: each row is one training image, the original on the left, then a grey bar,
 * then augmented versions of it.
 */
public final class DataPreview {
    /** Width in pixels of the bar between originals and augmented versions, and of the gaps between tiles. */
    private static final int BAR = 6, GAP = 2;

    private DataPreview() {
    }

    /** What {@link #write} drew. */
    public record Summary(int rows, int variants, List<String> rowLabels, int width, int height) {
    }

    /**
     * Writes the grid as a PNG. Rows cycle through the classes (one image per class first); tiles are enlarged
     * {@code zoom} times, nearest neighbour.
     */
    public static Summary write(DataConfig config, InputShape shape, int rows, int variants, int zoom, Path out)
            throws IOException {
        if (rows < 1 || variants < 1 || zoom < 1) {
            throw new ConfigException("preview: rows, variants and zoom must be at least 1");
        }
        DatasetLoader.Loaded data = DatasetLoader.load(config.withNormalization(NormalizationMode.NONE),
                DatasetManifest.load(), System.err);
        ImageSource source = data.trainPool();
        int classes = data.classes().size();
        List<Integer> picked = new ArrayList<>();
        List<List<Integer>> byClass = new ArrayList<>();
        for (int c = 0; c < classes; c++) {
            byClass.add(new ArrayList<>());
        }
        int perClass = (rows + classes - 1) / classes;
        for (int i = 0; i < source.size(); i++) {
            List<Integer> mine = byClass.get(source.label(i));
            if (mine.size() < perClass) {
                mine.add(i);
            }
        }
        for (int k = 0; picked.size() < rows && k < rows; k++) {
            for (int c = 0; c < classes && picked.size() < rows; c++) {
                if (k < byClass.get(c).size()) {
                    picked.add(byClass.get(c).get(k));
                }
            }
        }
        int h = shape.height() * zoom;
        int w = shape.width() * zoom;
        int width = w + BAR + variants * (w + GAP) + GAP;
        int height = picked.size() * (h + GAP) + GAP;
        BufferedImage grid = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                grid.setRGB(x, y, 0x404040);
            }
        }
        Augmenter augmenter = new Augmenter(config.augment());
        SplittableRandom rng = new SplittableRandom(config.seed());
        int size = shape.channels() * shape.height() * shape.width();
        float[] original = new float[size];
        float[] augmented = new float[size];
        List<String> labels = new ArrayList<>();
        for (int r = 0; r < picked.size(); r++) {
            int top = GAP + r * (h + GAP);
            if (!source.read(picked.get(r), shape, original, 0)) {
                labels.add("(unreadable) " + source.describe(picked.get(r)));
                continue;
            }
            labels.add(data.classes().get(source.label(picked.get(r))));
            draw(grid, original, shape, zoom, 0, top);
            for (int v = 0; v < variants; v++) {
                Augmenter.Params params = augmenter.sample(rng, shape.height(), shape.width());
                Augmenter.apply(params, original, 0, augmented, 0, shape.channels(), shape.height(), shape.width());
                draw(grid, augmented, shape, zoom, w + BAR + GAP + v * (w + GAP), top);
            }
        }
        AtomicFiles.write(out, stream -> {
            if (!ImageIO.write(grid, "png", stream)) {
                throw new IOException("no PNG writer in this Java");
            }
        });
        return new Summary(picked.size(), variants, labels, width, height);
    }

    private static void draw(BufferedImage grid, float[] chw, InputShape shape, int zoom, int left, int top) {
        int plane = shape.height() * shape.width();
        for (int y = 0; y < shape.height(); y++) {
            for (int x = 0; x < shape.width(); x++) {
                int i = y * shape.width() + x;
                int r = clamp(chw[i]);
                int g = shape.channels() == 3 ? clamp(chw[plane + i]) : r;
                int b = shape.channels() == 3 ? clamp(chw[2 * plane + i]) : r;
                int rgb = (r << 16) | (g << 8) | b;
                for (int dy = 0; dy < zoom; dy++) {
                    for (int dx = 0; dx < zoom; dx++) {
                        grid.setRGB(left + x * zoom + dx, top + y * zoom + dy, rgb);
                    }
                }
            }
        }
    }

    private static int clamp(float v) {
        return Math.max(0, Math.min(255, Math.round(v)));
    }
}
