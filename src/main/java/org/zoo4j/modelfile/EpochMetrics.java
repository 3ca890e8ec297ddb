package org.zoo4j.modelfile;

import java.util.List;
import java.util.Locale;

/**
 * One line of {@code metrics.csv}.
 *
 * @param epoch              epoch number, from 1
 * @param learningRate       learning rate used during the epoch
 * @param trainLoss          mean training loss over the epoch's batches (including regularisation); after a
 *                           mid-epoch resume, over the batches trained since
 * @param validationLoss     mean cross-entropy on the validation split; NaN without one
 * @param validationAccuracy accuracy on the validation split; NaN without one
 * @param seconds            wall time of the epoch, training and validation
 * @param imagesPerSecond    training throughput
 */
public record EpochMetrics(int epoch, double learningRate, double trainLoss, double validationLoss,
                           double validationAccuracy, double seconds, double imagesPerSecond) {
    public static final String CSV_HEADER = "epoch,learning_rate,train_loss,validation_loss,validation_accuracy,seconds,images_per_second";

    String csvRow() {
        return String.format(Locale.ROOT, "%d,%.6g,%.6f,%.6f,%.6f,%.2f,%.1f", epoch, learningRate, trainLoss,
                validationLoss, validationAccuracy, seconds, imagesPerSecond);
    }

    public static String csv(List<EpochMetrics> rows) {
        StringBuilder b = new StringBuilder(CSV_HEADER).append('\n');
        rows.forEach(r -> b.append(r.csvRow()).append('\n'));
        return b.toString();
    }
}
