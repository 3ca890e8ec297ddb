package org.zoo4j.visual;

import java.awt.image.BufferedImage;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.zoo4j.base.ConfigException;

/** What one image produces at a layer: a grid of its feature maps, each scaled by its own range. */
public final class FeatureMaps {
    private FeatureMaps() {
    }

    /**
     * The activations of {@code layer} for one input [1, C, H, W], in inference mode: [C, H, W] for an image-shaped
     * layer, [N] for a vector (dense layers, the classifier).
     */
    public static INDArray of(VisualModel model, INDArray input, String layer) {
        model.requireLayer(layer);
        if (input.rank() != 4 || input.size(0) != 1) {
            throw new ConfigException("expected one image [1, C, H, W], got shape " + Arrays.toString(input.shape()));
        }
        Map<String, INDArray> all = model.net().feedForward(input, false);
        INDArray a = all.get(layer);
        if (a == null) {
            throw new IllegalStateException(layer + ": no activations after the forward pass");
        }
        return a.slice(0).dup();
    }

    /**
     * The feature maps as a grid (about as many columns as rows), enlarged so that small maps are at least 64 pixels.
     * A vector is drawn as one tile of squares, row by row.
     */
    public static BufferedImage picture(INDArray activations) {
        List<Mosaic.Tile> tiles;
        if (activations.rank() == 3) {
            tiles = Mosaic.channels(activations);
        } else {
            int n = (int) activations.length();
            int side = (int) Math.ceil(Math.sqrt(n));
            float[] square = new float[side * side];
            float[] values = activations.castTo(DataType.FLOAT).data().asFloat();
            float min = Float.POSITIVE_INFINITY;
            for (float v : values) {
                min = Math.min(min, v);
            }
            Arrays.fill(square, min); // padding cells read as the smallest value, black
            System.arraycopy(values, 0, square, 0, n);
            tiles = List.of(new Mosaic.Tile(square, 1, side, side));
        }
        int size = Math.max(tiles.get(0).height(), tiles.get(0).width());
        int zoom = Math.max(1, (64 + size - 1) / size);
        return Mosaic.grid(tiles, zoom);
    }
}
