package org.zoo4j.data;

import java.util.List;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.zoo4j.zoo.InputShape;

/**
 * The data every model trains on: a dataset read once, split (seeded, stratified) into training, validation and test
 * images, and served as DL4J iterators of NCHW float features and one-hot labels at the model's input shape.
 *
 * <p>Batches are prepared on worker threads ahead of the trainer. Their features are already normalised with
 * {@link #normalizer()} (fitted on the training split), so no pre-processor needs to be set. The training iterator
 * reshuffles and re-augments at every {@code reset()} (seeded, so a run repeats exactly); validation and test data are
 * never augmented and always come in the same order.
 */
public final class DataPipeline implements AutoCloseable {

    private DataPipeline() {
    }

    /** Reads (finding or downloading as needed) the dataset that {@code config} names, for a model with this input. */
    public static DataPipeline open(DataConfig config, InputShape input) {
        throw new UnsupportedOperationException("DataPipeline.open: not implemented yet");
    }

    /** Training batches: shuffled per epoch and augmented as configured. */
    public DataSetIterator train() {
        throw new UnsupportedOperationException();
    }

    /** Validation batches (held out from the training split), never augmented. */
    public DataSetIterator validation() {
        throw new UnsupportedOperationException();
    }

    /** Test batches, never augmented. */
    public DataSetIterator test() {
        throw new UnsupportedOperationException();
    }

    /** Class names; label index i is {@code labels().get(i)}. */
    public List<String> labels() {
        throw new UnsupportedOperationException();
    }

    /** The normaliser fitted on the training split, already applied to every batch; save it with the model. */
    public Normalization normalizer() {
        throw new UnsupportedOperationException();
    }

    /** Unreadable images skipped so far, over all splits and epochs (each counted once per time it was met). */
    public long skippedImages() {
        throw new UnsupportedOperationException();
    }

    @Override
    public void close() {
    }
}
