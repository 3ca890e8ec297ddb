package org.zoo4j.training;

import java.util.List;
import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.zoo4j.data.Normalization;

/**
 * A classifier's results on a split: accuracy, top-5 accuracy (NaN with 5 classes or fewer), mean cross-entropy, and the
 * confusion matrix ({@code confusion[actual][predicted]}) from which per-class precision and recall follow.
 */
public record EvaluationReport(List<String> labels, long count, double accuracy, double top5, double loss, long[][] confusion) {

    /**
     * Evaluates {@code net} on every batch of {@code data} from its first. {@code normalization}, when not null, is
     * applied to the features first (for batches served as raw pixels).
     */
    public static EvaluationReport of(Model net, DataSetIterator data, List<String> labels, Normalization normalization) {
        TrainableNetwork network = TrainableNetwork.of(net);
        int classes = labels.size();
        long[][] confusion = new long[classes][classes];
        long count = 0;
        long correct = 0;
        long top5 = 0;
        double loss = 0;
        data.reset();
        while (data.hasNext()) {
            DataSet batch = data.next();
            INDArray features = batch.getFeatures();
            if (normalization != null) {
                features = normalization.apply(features.dup());
            }
            float[][] probabilities = network.output(features).toFloatMatrix();
            float[][] truth = batch.getLabels().toFloatMatrix();
            for (int i = 0; i < probabilities.length; i++) {
                int actual = argMax(truth[i]);
                float[] p = probabilities[i];
                int predicted = argMax(p);
                confusion[actual][predicted]++;
                count++;
                correct += actual == predicted ? 1 : 0;
                int higher = 0;
                for (float v : p) {
                    higher += v > p[actual] ? 1 : 0;
                }
                top5 += higher < 5 ? 1 : 0;
                loss -= Math.log(Math.max(p[actual], 1e-12));
            }
        }
        if (count == 0) {
            return new EvaluationReport(labels, 0, Double.NaN, Double.NaN, Double.NaN, confusion);
        }
        return new EvaluationReport(labels, count, (double) correct / count, classes > 5 ? (double) top5 / count : Double.NaN,
                loss / count, confusion);
    }

    static int argMax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }

    /** Of the images predicted as class {@code c}, the share that are {@code c}; NaN when none was. */
    public double precision(int c) {
        long predicted = 0;
        for (long[] row : confusion) {
            predicted += row[c];
        }
        return predicted == 0 ? Double.NaN : (double) confusion[c][c] / predicted;
    }

    /** Of the images of class {@code c}, the share predicted as {@code c}; NaN when there are none. */
    public double recall(int c) {
        long actual = 0;
        for (long v : confusion[c]) {
            actual += v;
        }
        return actual == 0 ? Double.NaN : (double) confusion[c][c] / actual;
    }
}
