package org.zoo4j.zoo;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.dropout.Dropout;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.graph.ScaleVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.LocalResponseNormalization;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.weights.IWeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/**
 * A ComputationGraph under construction that knows the shape of every vertex as it is added.
 *
 * <p>Families build their networks from these blocks. Each block takes a name and an input vertex and returns the name
 * of its output, checks that the layer fits the shape it receives (so a too-small input fails here with the layer's
 * name, not deep inside DL4J), and records the layer's output shape, parameters and multiply-accumulates for
 * {@code describe}. Vertex names follow the PyTorch state-dict keys of the same architecture.
 */
public final class NetworkLayout {
    /** Shape of one example at a vertex: channels x height x width, or a flat vector of {@code channels} values. */
    public record Shape(int channels, int height, int width, boolean flat) {
        static Shape image(int c, int h, int w) {
            return new Shape(c, h, w, false);
        }

        static Shape vector(int n) {
            return new Shape(n, 1, 1, true);
        }

        public long size() {
            return (long) channels * height * width;
        }

        @Override
        public String toString() {
            return flat ? String.valueOf(channels) : channels + "x" + height + "x" + width;
        }
    }

    /**
     * One vertex as {@code describe} shows it.
     *
     * @param name       the vertex name (a PyTorch state-dict prefix where the layer has weights)
     * @param type       a short description, e.g. "conv 5x5/1 pad 2, 6 filters"
     * @param output     the output shape of one example
     * @param trainable  trainable parameters
     * @param total      all parameters as DL4J stores them (batch norm adds its running mean and variance)
     * @param macs       multiply-accumulates for one example (convolutions and dense layers)
     * @param arithmetic the shape formula with numbers, for layers that change the spatial size
     */
    public record Layer(String name, String type, Shape output, long trainable, long total, long macs, String arithmetic) {
    }

    private final String model;
    private final ComputationGraphConfiguration.GraphBuilder graph;
    private final Map<String, Shape> shapes = new LinkedHashMap<>();
    private final List<Layer> layers = new ArrayList<>();
    private String output;

    /** Starts a network named {@code model} (for messages) with the common settings of {@code config}. */
    public NetworkLayout(String model, ArchitectureConfig config) {
        ArchitectureConfig.validateCommon(config);
        this.model = model;
        this.graph = new NeuralNetConfiguration.Builder()
                .seed(config.seed())
                .dataType(DataType.FLOAT)
                .updater(config.updater().toUpdater())
                .weightInit(config.weightInit())
                .convolutionMode(ConvolutionMode.Truncate)
                .graphBuilder()
                .addInputs(inputName())
                .setInputTypes(InputType.convolutional(config.input().height(), config.input().width(),
                        config.input().channels()));
        shapes.put(inputName(), Shape.image(config.input().channels(), config.input().height(), config.input().width()));
    }

    /** The name of the graph's input vertex. */
    public static String inputName() {
        return "input";
    }

    public Shape shape(String vertex) {
        Shape s = shapes.get(vertex);
        if (s == null) {
            throw new IllegalStateException(model + ": no vertex named " + vertex);
        }
        return s;
    }

    public List<Layer> layers() {
        return List.copyOf(layers);
    }

    /** Convolution, square kernel; {@code activation} is fused into the layer (IDENTITY when a BN follows). */
    public String conv(String name, String in, int filters, int kernel, int stride, int padding, boolean bias,
                       Activation activation) {
        Shape s = image(name, in);
        int h = spatial(name, "conv", s.height(), kernel, stride, padding);
        int w = spatial(name, "conv", s.width(), kernel, stride, padding);
        graph.addLayer(name, new ConvolutionLayer.Builder(kernel, kernel).stride(stride, stride).padding(padding, padding)
                .nIn(s.channels()).nOut(filters).hasBias(bias).activation(activation)
                .convolutionMode(ConvolutionMode.Truncate).build(), in);
        long params = (long) kernel * kernel * s.channels() * filters + (bias ? filters : 0);
        long macs = (long) h * w * filters * s.channels() * kernel * kernel;
        String type = "conv " + kernel + "x" + kernel + "/" + stride + (padding > 0 ? " pad " + padding : "") + ", "
                + filters + " filters" + act(activation);
        return add(name, Shape.image(filters, h, w), type, params, params, macs,
                formulas(s, kernel, padding, stride, h, w));
    }

    /**
     * Batch normalisation over channels (PyTorch's eps 1e-5 and momentum 0.1), then the activation, if any, as its own
     * layer {@code <name>.act}: DL4J M2.1's BatchNormalization ignores its own activation setting (found by the
     * torchvision parity test: a ReLU set on the layer was never applied). Returns the vertex to continue from.
     */
    public String batchNorm(String name, String in, Activation activation) {
        Shape s = shape(name, in);
        graph.addLayer(name, new BatchNormalization.Builder().nIn(s.channels()).nOut(s.channels()).eps(1e-5).decay(0.9)
                .activation(Activation.IDENTITY).build(), in);
        String out = add(name, s, "batch norm", 2L * s.channels(), 4L * s.channels(), 0, "");
        return activation == Activation.IDENTITY ? out : activation(name + ".act", out, activation);
    }

    /** Local response normalisation as in the AlexNet paper (n=5, k=2, alpha=1e-4, beta=0.75). */
    public String lrn(String name, String in) {
        Shape s = image(name, in);
        graph.addLayer(name, new LocalResponseNormalization.Builder().n(5).k(2).alpha(1e-4).beta(0.75).build(), in);
        return add(name, s, "local response norm", 0, 0, 0, "");
    }

    public String activation(String name, String in, Activation activation) {
        Shape s = shape(name, in);
        graph.addLayer(name, new ActivationLayer.Builder().activation(activation).build(), in);
        return add(name, s, activation.name().toLowerCase(), 0, 0, 0, "");
    }

    public String maxPool(String name, String in, int kernel, int stride, int padding) {
        return pool(name, in, PoolingType.MAX, kernel, stride, padding);
    }

    public String avgPool(String name, String in, int kernel, int stride, int padding) {
        return pool(name, in, PoolingType.AVG, kernel, stride, padding);
    }

    private String pool(String name, String in, PoolingType type, int kernel, int stride, int padding) {
        Shape s = image(name, in);
        String kind = type.name().toLowerCase() + " pool";
        int h = spatial(name, kind, s.height(), kernel, stride, padding);
        int w = spatial(name, kind, s.width(), kernel, stride, padding);
        graph.addLayer(name, new SubsamplingLayer.Builder(type).kernelSize(kernel, kernel).stride(stride, stride)
                .padding(padding, padding).convolutionMode(ConvolutionMode.Truncate).build(), in);
        return add(name, Shape.image(s.channels(), h, w), kind + " " + kernel + "x" + kernel + "/" + stride
                + (padding > 0 ? " pad " + padding : ""), 0, 0, 0, formulas(s, kernel, padding, stride, h, w));
    }

    /** Average over all spatial positions: C x H x W to a vector of C, whatever H and W are. */
    public String globalAvgPool(String name, String in) {
        Shape s = image(name, in);
        graph.addLayer(name, new GlobalPoolingLayer.Builder(PoolingType.AVG).build(), in);
        return add(name, Shape.vector(s.channels()), "global avg pool", 0, 0, 0, "");
    }

    /**
     * Fully connected layer; an image input is flattened in C,H,W order (as torch.flatten). {@code dropRate} is the
     * probability of dropping each input during training, PyTorch's convention (0 for none).
     */
    public String dense(String name, String in, int units, Activation activation, double dropRate) {
        return dense(name, in, units, activation, dropRate, null);
    }

    /**
     * As {@link #dense(String, String, int, Activation, double)}, the weights initialised by {@code init} (null: the network's).
     */
    public String dense(String name, String in, int units, Activation activation, double dropRate, IWeightInit init) {
        Shape s = shape(name, in);
        DenseLayer.Builder b = new DenseLayer.Builder().nIn(s.size()).nOut(units).activation(activation);
        if (init != null) {
            b.weightInit(init);
        }
        if (dropRate > 0) {
            b.dropOut(new Dropout(1.0 - dropRate)); // DL4J takes the probability of keeping
        }
        graph.addLayer(name, b.build(), in);
        long params = s.size() * units + units;
        return add(name, Shape.vector(units), "dense " + units + act(activation) + drop(dropRate), params, params,
                s.size() * units, s.flat() ? "" : "flatten " + s + " = " + s.size());
    }

    /** The softmax classifier, trained with cross-entropy; it becomes the graph's output. */
    public String output(String name, String in, int classes, double dropRate) {
        return output(name, in, classes, dropRate, null);
    }

    /**
     * As {@link #output(String, String, int, double)}, the weights initialised by {@code init} (null: the network's).
     */
    public String output(String name, String in, int classes, double dropRate, IWeightInit init) {
        Shape s = shape(name, in);
        OutputLayer.Builder b = new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(s.size()).nOut(classes)
                .activation(Activation.SOFTMAX);
        if (init != null) {
            b.weightInit(init);
        }
        if (dropRate > 0) {
            b.dropOut(new Dropout(1.0 - dropRate));
        }
        graph.addLayer(name, b.build(), in);
        graph.setOutputs(name);
        output = name;
        long params = s.size() * classes + classes;
        return add(name, Shape.vector(classes), "dense " + classes + ", softmax" + drop(dropRate), params, params,
                s.size() * classes, s.flat() ? "" : "flatten " + s + " = " + s.size());
    }

    /** Element-wise sum of two vertices of the same shape (the residual connection). */
    public String sum(String name, String a, String b) {
        Shape sa = shape(name, a);
        Shape sb = shape(name, b);
        if (!sa.equals(sb)) {
            throw new IllegalStateException(model + ": " + name + " adds " + a + " (" + sa + ") and " + b + " (" + sb + ")");
        }
        graph.addVertex(name, new ElementWiseVertex(ElementWiseVertex.Op.Add), a, b);
        return add(name, sa, "add", 0, 0, 0, "");
    }

    /**
     * The parameter-free shortcut of the CIFAR ResNets (option A of the paper): keep every {@code stride}-th pixel and
     * double the channels with zeros. The zeros come first: the reference PyTorch code puts half before and half after,
     * which differs only by a permutation of channels that the following layers learn (DL4J's SubsetVertex, needed to
     * split the zeros, reports a wrong shape for image inputs in M2.1).
     */
    public String subsampleAndZeroPad(String name, String in, int stride, int channels) {
        Shape s = image(name, in);
        if (channels != 2 * s.channels()) {
            throw new IllegalStateException(model + ": " + name + " can only double the channels (" + s.channels() + " to "
                    + channels + " asked)");
        }
        String kept = stride == 1 ? in : maxPool(name + ".subsample", in, 1, stride, 0);
        Shape k = shape(kept);
        graph.addVertex(name + ".zeros", new ScaleVertex(0.0), kept);
        shapes.put(name + ".zeros", k);
        graph.addVertex(name, new MergeVertex(), name + ".zeros", kept);
        return add(name, Shape.image(channels, k.height(), k.width()), "zero-pad channels " + s.channels() + "->" + channels,
                0, 0, 0, "");
    }

    /** The finished configuration; {@link #output} must have been called. */
    public ComputationGraphConfiguration build() {
        if (output == null) {
            throw new IllegalStateException(model + ": no output layer");
        }
        return graph.build();
    }

    public long trainableParams() {
        return layers.stream().mapToLong(Layer::trainable).sum();
    }

    public long totalParams() {
        return layers.stream().mapToLong(Layer::total).sum();
    }

    public long macs() {
        return layers.stream().mapToLong(Layer::macs).sum();
    }

    /**
     * Numbers a {@code torch.nn.Sequential}'s children: {@code features.0}, {@code features.1}, ... Modules without a
     * vertex of their own here (a ReLU fused into the convolution, a dropout carried by the next layer) still take an
     * index, so that the names with weights match PyTorch's state-dict keys.
     */
    public static final class Sequential {
        private final String prefix;
        private int index;

        public Sequential(String prefix) {
            this.prefix = prefix;
        }

        /** The name of the next module, and moves past it. */
        public String next() {
            return prefix + "." + index++;
        }

        /** Moves past {@code count} modules that have no vertex of their own. */
        public void skip(int count) {
            index += count;
        }
    }

    // ------------------------------------------------------------------ internals

    private Shape shape(String layer, String in) {
        Shape s = shapes.get(in);
        if (s == null) {
            throw new IllegalStateException(model + ": " + layer + " takes unknown vertex " + in);
        }
        return s;
    }

    private Shape image(String layer, String in) {
        Shape s = shape(layer, in);
        if (s.flat()) {
            throw new IllegalStateException(model + ": " + layer + " needs an image input, " + in + " is a vector");
        }
        return s;
    }

    private int spatial(String layer, String kind, int size, int kernel, int stride, int padding) {
        int padded = size + 2 * padding;
        if (padded < kernel) {
            throw new ShapeException(String.format("%s (%s %dx%d) would receive %d pixels%s, fewer than its kernel",
                    layer, kind, kernel, kernel, size, padding > 0 ? " (" + padded + " padded)" : ""));
        }
        return (padded - kernel) / stride + 1;
    }

    private String add(String name, Shape out, String type, long trainable, long total, long macs, String arithmetic) {
        if (shapes.containsKey(name)) {
            throw new IllegalStateException(model + ": duplicate vertex name " + name);
        }
        shapes.put(name, out);
        layers.add(new Layer(name, type, out, trainable, total, macs, arithmetic));
        return name;
    }

    /** The formula for the height, and for the width where it differs. */
    private static String formulas(Shape in, int kernel, int padding, int stride, int h, int w) {
        String height = formula(in.height(), kernel, padding, stride, h);
        return in.height() == in.width() ? height : "H: " + height + "; W: " + formula(in.width(), kernel, padding, stride, w);
    }

    private static String formula(int in, int kernel, int padding, int stride, int out) {
        return String.format("(%d - %d + 2*%d)/%d + 1 = %d", in, kernel, padding, stride, out);
    }

    private static String act(Activation a) {
        return a == null || a == Activation.IDENTITY ? "" : ", " + a.name().toLowerCase();
    }

    private static String drop(double rate) {
        return rate > 0 ? ", dropout " + rate + " before" : "";
    }
}
