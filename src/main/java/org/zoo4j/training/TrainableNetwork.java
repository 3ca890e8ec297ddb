package org.zoo4j.training;

import java.util.LinkedHashMap;
import java.util.Map;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.learning.config.IUpdater;

/**
 * The two kinds of DL4J network the training loop trains, behind the few operations it needs: DL4J gives
 * {@link ComputationGraph} and {@link MultiLayerNetwork} no common interface for them.
 */
sealed interface TrainableNetwork {
    static TrainableNetwork of(Model model) {
        if (model instanceof ComputationGraph graph) {
            return new Graph(graph);
        }
        if (model instanceof MultiLayerNetwork layers) {
            return new Layers(layers);
        }
        throw new IllegalArgumentException("the training loop trains a ComputationGraph or a MultiLayerNetwork, got "
                + (model == null ? "null" : model.getClass().getName()));
    }

    Model model();

    void fit(DataSet batch);

    /** The output for {@code features} in inference mode (dropout off, batch norm on its running statistics). */
    INDArray output(INDArray features);

    Layer[] layers();

    default double score() {
        return model().score();
    }

    /**
     * Each layer's learning rate, by layer name (or {@code #index} for unnamed layers), for the layers whose updater
     * has one; frozen layers have none.
     */
    default Map<String, Double> learningRates() {
        Map<String, Double> rates = new LinkedHashMap<>();
        Layer[] layers = layers();
        for (int i = 0; i < layers.length; i++) {
            IUpdater updater = updater(layers[i]);
            if (updater != null) {
                rates.put(key(layers[i], i), updater.getLearningRate(0, 0));
            }
        }
        return rates;
    }

    /**
     * Sets each layer's learning rate to its rate in {@code base} times {@code factor}. The rate is changed in the
     * layer's updater configuration, which the updater reads at every step: DL4J's {@code setLearningRate} rebuilds
     * the updater state instead, and fails on networks with frozen layers.
     */
    default void scaleLearningRates(Map<String, Double> base, double factor) {
        Layer[] layers = layers();
        for (int i = 0; i < layers.length; i++) {
            IUpdater updater = updater(layers[i]);
            Double rate = base.get(key(layers[i], i));
            if (updater != null && rate != null) {
                updater.setLrAndSchedule(rate * factor, null);
            }
        }
    }

    private static IUpdater updater(Layer layer) {
        return layer.conf().getLayer() instanceof BaseLayer conf && conf.getIUpdater() != null
                && conf.getIUpdater().hasLearningRate() ? conf.getIUpdater() : null;
    }

    private static String key(Layer layer, int index) {
        String name = layer.conf().getLayer().getLayerName();
        return name != null ? name : "#" + index;
    }

    record Graph(ComputationGraph model) implements TrainableNetwork {
        @Override
        public void fit(DataSet batch) {
            model.fit(batch);
        }

        @Override
        public INDArray output(INDArray features) {
            return model.outputSingle(false, features);
        }

        @Override
        public Layer[] layers() {
            return model.getLayers();
        }
    }

    record Layers(MultiLayerNetwork model) implements TrainableNetwork {
        @Override
        public void fit(DataSet batch) {
            model.fit(batch);
        }

        @Override
        public INDArray output(INDArray features) {
            return model.output(features, false);
        }

        @Override
        public Layer[] layers() {
            return model.getLayers();
        }
    }
}
