package org.zoo4j.data;

import org.zoo4j.base.Choices;

/** How pixel values (0 to 255) are turned into network inputs. */
public enum NormalizationMode {
    /** Raw pixel values, 0 to 255. */
    NONE,
    /** Divided by 255, giving [0, 1]. */
    SCALE,
    /** Divided by 255, then per channel (x - mean) / std with mean and std fitted on the training split. */
    STANDARDIZE;

    @Override
    public String toString() {
        return Choices.name(this);
    }
}
