package org.zoo4j.visual;

import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.graph.vertex.GraphVertex;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.zoo4j.base.ConfigException;

/**
 * The learned kernels of a convolution layer. A layer with one input channel (or three, drawn as colour) gives one
 * tile per filter; otherwise each row is one filter and each column one of its input channels. Each filter is scaled
 * by its own minimum and maximum over all its input channels, so that the columns of a row compare.
 */
public final class Filters {
    /** Default zoom of a 3x3 to 11x11 kernel: large enough to see each weight as a square. */
    private static final int ZOOM = 8;

    private Filters() {
    }

    /** A layer's weights [filters, input channels, kH, kW]; an error if the layer is not a convolution. */
    public static INDArray weights(VisualModel model, String layer) {
        model.requireLayer(layer);
        GraphVertex vertex = model.net().getVertex(layer);
        Layer l = vertex.hasLayer() ? vertex.getLayer() : null;
        INDArray w = l == null ? null : l.paramTable().get("W");
        if (w == null || w.rank() != 4) {
            List<String> convs = new ArrayList<>();
            for (String name : model.layerNames()) {
                GraphVertex v = model.net().getVertex(name);
                if (v.hasLayer() && v.getLayer().paramTable().containsKey("W")
                        && v.getLayer().paramTable().get("W").rank() == 4) {
                    convs.add(name);
                }
            }
            throw new ConfigException("--layer: " + layer + " is not a convolution layer, it has no kernels;"
                    + " the convolution layers of " + model.source() + " are " + String.join(", ", convs));
        }
        return w.dup('c');
    }

    /**
     * The kernels as a picture: at most {@code maxFilters} filters (rows or tiles) and {@code maxInputs} input channels
     * (columns) of each.
     */
    public static BufferedImage picture(VisualModel model, String layer, int maxFilters, int maxInputs) {
        return picture(model, layer, maxFilters, maxInputs, ZOOM);
    }

    /** The same, each weight drawn as a {@code zoom} x {@code zoom} square. */
    public static BufferedImage picture(VisualModel model, String layer, int maxFilters, int maxInputs, int zoom) {
        if (maxFilters < 1 || maxInputs < 1) {
            throw new ConfigException("at least one filter and one input channel must be shown");
        }
        INDArray w = weights(model, layer);
        int filters = (int) Math.min(w.size(0), maxFilters);
        int inputs = (int) w.size(1);
        List<Mosaic.Tile> tiles = new ArrayList<>();
        if (inputs == 1 || inputs == 3) {
            for (int f = 0; f < filters; f++) {
                tiles.add(Mosaic.Tile.image(w.slice(f)));
            }
            return Mosaic.grid(tiles, (int) Math.ceil(Math.sqrt(filters)), zoom, 2);
        }
        int shown = Math.min(inputs, maxInputs);
        for (int f = 0; f < filters; f++) {
            INDArray filter = w.slice(f);
            float lo = filter.minNumber().floatValue();
            float hi = filter.maxNumber().floatValue();
            for (int c = 0; c < shown; c++) {
                tiles.add(Mosaic.Tile.grey(filter.slice(c)).range(lo, hi));
            }
        }
        return Mosaic.grid(tiles, shown, zoom, 2);
    }
}
