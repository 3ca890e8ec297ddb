package org.zoo4j.spark;

import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.nd4j.common.loader.Source;
import org.nd4j.linalg.dataset.DataSet;

/**
 * Loads a training batch on an executor by building it with the data pipeline ({@link ExecutorData}): the "paths"
 * of the RDD that DL4J's training masters spread over the workers are names of batches, {@code /zoo4j-batch/E/B}
 * (batch B of epoch E), so only these short strings travel, and each executor reads its share of the images itself.
 * They are never opened as files.
 */
final class PipelineBatches extends EpochLoader {
    private static final long serialVersionUID = 1L;
    private static final Pattern KEY = Pattern.compile(".*/zoo4j-batch/(\\d+)/(\\d+)");

    private final ExecutorData.Spec data;

    PipelineBatches(ExecutorData.Spec data) {
        this.data = data;
    }

    /** The name of batch {@code batch} of epoch {@code epoch}. */
    static String key(int epoch, int batch) {
        return "/zoo4j-batch/" + epoch + "/" + batch;
    }

    @Override
    DataSet loadBatch(Source source) {
        Matcher m = KEY.matcher(source.getPath());
        if (!m.matches()) {
            throw new IllegalArgumentException("not a zoo4j batch name: " + source.getPath());
        }
        return ExecutorData.pipeline(data).train().batch(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)));
    }
}
