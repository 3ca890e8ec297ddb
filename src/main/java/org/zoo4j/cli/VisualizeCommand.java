package org.zoo4j.cli;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.zoo4j.visual.ActivationMaximizer;
import org.zoo4j.visual.ConvolutionDemo;
import org.zoo4j.visual.FeatureMaps;
import org.zoo4j.visual.Filters;
import org.zoo4j.visual.Kernel;
import org.zoo4j.visual.Mosaic;
import org.zoo4j.visual.VisualModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code zoo4j visualize ...}: pictures of what a network has learned and of what a convolution does. */
@Command(name = "visualize", mixinStandardHelpOptions = true,
        description = {"Pictures (PNG) of inside a network: the kernels of a convolution layer, the feature maps one image"
                + " produces, an input that maximises a filter; and a convolution by hand on any image.",
                "MODEL is a model file or run directory (as for eval and predict) or a registered model name, which is"
                        + " built with fresh random weights. Layer names are those 'zoo4j describe' lists."},
        subcommands = {VisualizeCommand.FiltersCommand.class, VisualizeCommand.ActivationsCommand.class,
                VisualizeCommand.MaximizeCommand.class, VisualizeCommand.ConvCommand.class})
final class VisualizeCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    private static VisualModel load(String model, TrustOptions trust) throws IOException {
        VisualModel m = VisualModel.load(model, trust.trust());
        System.out.println("model: " + m.source());
        return m;
    }

    private static void write(BufferedImage picture, Path out, String what) throws IOException {
        Mosaic.writePng(picture, out);
        System.out.println("wrote " + out + " (" + picture.getWidth() + "x" + picture.getHeight() + "): " + what);
    }

    @Command(name = "filters", mixinStandardHelpOptions = true,
            description = "The learned kernels of a convolution layer as a grid: one row per filter, one column per"
                    + " input channel (one tile per filter for 1- or 3-channel inputs), each filter scaled by its own"
                    + " range, enlarged so that every weight is a square.")
    static final class FiltersCommand implements Callable<Integer> {
        @Mixin
        TrustOptions trustOptions = new TrustOptions();

        @Parameters(index = "0", paramLabel = "MODEL", description = "model file, run directory or registered model name")
        String model;

        @Option(names = "--layer", required = true, description = "a convolution layer, e.g. conv1 or features.0")
        String layer;

        @Option(names = "--max-filters", defaultValue = "64", description = "filters shown at most (default: ${DEFAULT-VALUE})")
        int maxFilters;

        @Option(names = "--max-inputs", defaultValue = "16",
                description = "input channels shown per filter at most (default: ${DEFAULT-VALUE})")
        int maxInputs;

        @Option(names = "--out", required = true, description = "PNG file to write")
        Path out;

        @Override
        public Integer call() throws Exception {
            VisualModel m = load(model, trustOptions);
            INDArray w = Filters.weights(m, layer);
            BufferedImage picture = Filters.picture(m, layer, maxFilters, maxInputs);
            write(picture, out, String.format(Locale.ROOT, "%s: %d filters of %d x %dx%d (shown: %d filters, %d inputs)",
                    layer, w.size(0), w.size(1), w.size(2), w.size(3), Math.min(w.size(0), maxFilters),
                    w.size(1) == 1 || w.size(1) == 3 ? w.size(1) : Math.min(w.size(1), maxInputs)));
            return 0;
        }
    }

    @Command(name = "activations", mixinStandardHelpOptions = true,
            description = "The feature maps one image produces at a layer (any layer), each scaled by its own range.")
    static final class ActivationsCommand implements Callable<Integer> {
        @Mixin
        TrustOptions trustOptions = new TrustOptions();

        @Parameters(index = "0", paramLabel = "MODEL", description = "model file, run directory or registered model name")
        String model;

        @Parameters(index = "1", paramLabel = "IMAGE", description = "PNG, JPEG or BMP image; resized and normalised as"
                + " the model's input")
        Path image;

        @Option(names = "--layer", required = true, description = "a layer name as 'zoo4j describe' lists it")
        String layer;

        @Option(names = "--out", required = true, description = "PNG file to write")
        Path out;

        @Override
        public Integer call() throws Exception {
            VisualModel m = load(model, trustOptions);
            m.requireLayer(layer);
            INDArray a = FeatureMaps.of(m, m.readImage(image), layer);
            write(FeatureMaps.picture(a), out, String.format(Locale.ROOT,
                    "%s: activations of shape %s, min %.4g, mean %.4g, max %.4g", layer,
                    Arrays.toString(a.shape()), a.minNumber().doubleValue(), a.meanNumber().doubleValue(),
                    a.maxNumber().doubleValue()));
            return 0;
        }
    }

    @Command(name = "maximize", mixinStandardHelpOptions = true,
            description = "An input that maximises one filter's mean activation, by gradient ascent on the input from"
                    + " noise (normalised steps, a little decay towards grey and blur).")
    static final class MaximizeCommand implements Callable<Integer> {
        @Mixin
        TrustOptions trustOptions = new TrustOptions();

        @Parameters(index = "0", paramLabel = "MODEL", description = "model file, run directory or registered model name")
        String model;

        @Option(names = "--layer", required = true, description = "a hidden layer as 'zoo4j describe' lists it")
        String layer;

        @Option(names = "--filter", split = ",", required = true,
                description = "filter (channel) number(s), from 0; several give a row of pictures, e.g. 0,1,2")
        List<Integer> filters;

        @Option(names = "--steps", defaultValue = "100", description = "gradient steps (default: ${DEFAULT-VALUE})")
        int steps;

        @Option(names = "--step-size", defaultValue = "0.05",
                description = "change per step in normalised input units (default: ${DEFAULT-VALUE})")
        double stepSize;

        @Option(names = "--seed", defaultValue = "42", description = "seed of the starting noise (default: ${DEFAULT-VALUE})")
        long seed;

        @Option(names = "--out", required = true, description = "PNG file to write")
        Path out;

        @Override
        public Integer call() throws Exception {
            VisualModel m = load(model, trustOptions);
            ActivationMaximizer max = new ActivationMaximizer(m, layer);
            ActivationMaximizer.Settings defaults = ActivationMaximizer.Settings.defaults();
            ActivationMaximizer.Settings settings = new ActivationMaximizer.Settings(steps, stepSize, defaults.decay(),
                    defaults.blurEvery(), seed);
            List<Mosaic.Tile> tiles = new ArrayList<>();
            for (int f : filters) {
                ActivationMaximizer.Result r = max.maximize(f, settings);
                System.out.printf(Locale.ROOT, "%s filter %d: mean activation %.4g (noise) -> %.4g after %d steps%n",
                        layer, f, r.start(), r.end(), steps);
                tiles.add(r.tile());
            }
            int size = Math.max(m.input().height(), m.input().width());
            BufferedImage picture = Mosaic.grid(tiles, tiles.size(), Math.max(1, 128 / size), 4);
            write(picture, out, layer + " filters " + filters);
            return 0;
        }
    }

    @Command(name = "conv", mixinStandardHelpOptions = true,
            description = {"Convolve an image (made grey) with a named 3x3 kernel at a stride and zero padding; prints the"
                    + " output size from (W - F + 2P)/S + 1 and writes input and output side by side.",
                    "Kernels: edge, sharpen, blur, sobel-x, sobel-y (cross-correlation, as in every CNN)."})
    static final class ConvCommand implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "IMAGE", description = "PNG, JPEG or BMP image, used at its own size")
        Path image;

        @Option(names = "--kernel", defaultValue = "edge", description = "edge, sharpen, blur, sobel-x or sobel-y"
                + " (default: ${DEFAULT-VALUE})")
        String kernel;

        @Option(names = "--stride", defaultValue = "1", description = "S (default: ${DEFAULT-VALUE})")
        int stride;

        @Option(names = "--padding", defaultValue = "0", description = "P, zeros on each side (default: ${DEFAULT-VALUE})")
        int padding;

        @Option(names = "--zoom", defaultValue = "0", description = "enlargement of the picture; 0 picks one so that"
                + " the input is at least 256 pixels wide")
        int zoom;

        @Option(names = "--out", required = true, description = "PNG file to write")
        Path out;

        @Override
        public Integer call() throws Exception {
            Kernel k = Kernel.of(kernel);
            INDArray grey = ConvolutionDemo.readGrey(image);
            ConvolutionDemo.Result r = ConvolutionDemo.apply(grey, k, stride, padding);
            System.out.printf(Locale.ROOT, "input %dx%d (H x W), kernel %s %dx%d, stride %d, padding %d%n",
                    grey.size(0), grey.size(1), k.cliName(), k.size(), k.size(), stride, padding);
            System.out.println("output height: (H - F + 2P)/S + 1 = " + r.heightFormula());
            System.out.println("output width:  (W - F + 2P)/S + 1 = " + r.widthFormula());
            int z = zoom > 0 ? zoom : Math.max(1, (256 + (int) grey.size(1) - 1) / (int) grey.size(1));
            write(r.picture(z), out, String.format(Locale.ROOT, "input | %s output %dx%d (values %.4g to %.4g,"
                    + " scaled to black-white)", k.cliName(), r.output().size(0), r.output().size(1),
                    r.output().minNumber().doubleValue(), r.output().maxNumber().doubleValue()));
            return 0;
        }
    }
}
