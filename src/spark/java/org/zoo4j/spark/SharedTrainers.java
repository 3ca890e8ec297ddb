package org.zoo4j.spark;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.apache.spark.util.CollectionAccumulator;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.learning.config.IUpdater;

/**
 * What an executor JVM's gradient-sharing trainers need from the current epoch. DL4J M2 keeps one trainer per JVM for
 * the whole run (a static one, built from the first epoch's broadcast, with the first epoch's listeners), so the
 * later epochs reach it only through their batch loaders, which run in that JVM: they bring the epoch's learning rates
 * (the driver's schedule), and carry the trained batches' losses, which the trainers leave here, into the current
 * task's accumulator.
 */
final class SharedTrainers {
    private static final ConcurrentLinkedQueue<double[]> STEPS = new ConcurrentLinkedQueue<>();
    private static volatile Map<String, Double> rates;
    private static volatile int ratesEpoch = -1;
    private static final Map<Model, Integer> APPLIED = Collections.synchronizedMap(new WeakHashMap<>());

    private SharedTrainers() {
    }

    /** A trained batch, from a trainer thread. */
    static void trained(double[] step) {
        STEPS.add(step);
    }

    /** Moves the trained batches recorded so far into {@code steps} (the running task's accumulator). */
    static void drainInto(CollectionAccumulator<double[]> steps) {
        double[] s;
        while ((s = STEPS.poll()) != null) {
            steps.add(s);
        }
    }

    /** The learning rates of epoch {@code epoch}, by layer name. */
    static void epochRates(int epoch, Map<String, Double> byLayer) {
        if (epoch != ratesEpoch) {
            rates = byLayer;
            ratesEpoch = epoch;
        }
    }

    /** Gives {@code model} (a trainer's replica) the current epoch's learning rates, once per epoch. */
    static void applyRates(Model model) {
        Map<String, Double> current = rates;
        int epoch = ratesEpoch;
        if (current == null || Integer.valueOf(epoch).equals(APPLIED.get(model))) {
            return;
        }
        Layer[] layers = model instanceof ComputationGraph g ? g.getLayers() : new Layer[0];
        for (Layer layer : layers) {
            IUpdater updater = updater(layer);
            Double rate = current.get(layer.conf().getLayer().getLayerName());
            if (updater != null && rate != null) {
                updater.setLrAndSchedule(rate, null);
            }
        }
        APPLIED.put(model, epoch);
    }

    /** The driver network's current learning rate of each layer that has one, by layer name. */
    static Map<String, Double> ratesOf(ComputationGraph net) {
        Map<String, Double> byLayer = new java.util.LinkedHashMap<>();
        for (Layer layer : net.getLayers()) {
            IUpdater updater = updater(layer);
            String name = layer.conf().getLayer().getLayerName();
            if (updater != null && name != null) {
                byLayer.put(name, updater.getLearningRate(0, 0));
            }
        }
        return byLayer;
    }

    private static IUpdater updater(Layer layer) {
        return layer.conf().getLayer() instanceof BaseLayer conf && conf.getIUpdater() != null
                && conf.getIUpdater().hasLearningRate() ? conf.getIUpdater() : null;
    }

    /** For tests: the recorded batches not yet drained. */
    static List<double[]> pending() {
        return new ArrayList<>(STEPS);
    }
}
