package org.zoo4j.recipe;

import org.zoo4j.base.Choices;

/** The backend a run expects; a run on CUDA needs the {@code -Pcuda} build and an NVIDIA GPU. */
public enum Device {
    CPU,
    CUDA;

    @Override
    public String toString() {
        return Choices.name(this);
    }
}
