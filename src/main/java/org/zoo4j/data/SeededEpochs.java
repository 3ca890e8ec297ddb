package org.zoo4j.data;

import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;

/**
 * A training iterator whose batches in an epoch depend on the epoch number alone (its shuffle and augmentation are
 * seeded by it), so that a run stopped in the middle of an epoch can continue at the next batch with the same data.
 * Any other iterator can only continue a run at an epoch boundary.
 */
public interface SeededEpochs extends DataSetIterator {
    /** Starts epoch {@code epoch} (from 0) at its first batch. */
    void setEpoch(int epoch);

    /** Batches per epoch. */
    int numBatches();

    /** Images left out of this epoch's batches so far because they could not be read. */
    default long skippedInEpoch() {
        return 0;
    }
}
