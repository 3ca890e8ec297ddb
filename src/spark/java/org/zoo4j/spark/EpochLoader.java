package org.zoo4j.spark;

import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.spark.util.CollectionAccumulator;
import org.deeplearning4j.core.loader.DataSetLoader;
import org.nd4j.common.loader.Source;
import org.nd4j.linalg.dataset.DataSet;

/**
 * A batch loader that also carries the epoch to gradient sharing's long-lived trainers ({@link SharedTrainers}): their
 * learning rates, and the accumulator their trained batches go into. Parameter averaging builds its workers afresh
 * for every round and needs neither ({@code steps} and {@code rates} are null).
 */
abstract class EpochLoader implements DataSetLoader {
    private static final long serialVersionUID = 1L;

    private CollectionAccumulator<double[]> steps;
    private int epoch = -1;
    private LinkedHashMap<String, Double> rates;

    /** For gradient sharing: this epoch's number, learning rates and accumulator. */
    EpochLoader sharing(int e, Map<String, Double> byLayer, CollectionAccumulator<double[]> accumulator) {
        this.epoch = e;
        this.rates = new LinkedHashMap<>(byLayer);
        this.steps = accumulator;
        return this;
    }

    @Override
    public final DataSet load(Source source) {
        if (rates != null) {
            SharedTrainers.epochRates(epoch, rates);
        }
        if (steps != null) {
            SharedTrainers.drainInto(steps);
        }
        return loadBatch(source);
    }

    abstract DataSet loadBatch(Source source);
}
