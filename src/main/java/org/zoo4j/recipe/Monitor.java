package org.zoo4j.recipe;

import org.zoo4j.base.Choices;

/** The validation metric that picks a run's best model and drives early stopping. */
public enum Monitor {
    /** Validation accuracy, higher is better. */
    ACCURACY,
    /** Mean validation cross-entropy, lower is better. */
    LOSS;

    @Override
    public String toString() {
        return Choices.name(this);
    }
}
