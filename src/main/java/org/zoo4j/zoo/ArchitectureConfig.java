package org.zoo4j.zoo;

import org.deeplearning4j.nn.weights.WeightInit;
import org.zoo4j.base.Checks;
import org.zoo4j.base.InputShape;
/**
 * The settings every model family takes. Each family's config record declares these components, plus its own.
 * The settings are documented here, once.
 */
public interface ArchitectureConfig {
    /** The seed of every preset: presets built twice start from the same weights. */
    long DEFAULT_SEED = 42;

    /** Shape of one input image, "C,H,W"; any size the network's strides and pools leave at least 1x1. */
    InputShape input();

    /** Number of classes of the softmax output; at least 1. */
    int numClasses();

    /** Seed of the weight initialisation: the same seed gives the same initial weights. */
    long seed();

    /** Optimiser and its base learning rate. */
    UpdaterSpec updater();

    /**
     * Initialisation of convolution and dense weights (DL4J's names: RELU is He, XAVIER is Glorot, UNIFORM is PyTorch's
     * default U(-1/sqrt(fanIn), 1/sqrt(fanIn))); VGG's dense layers follow its classifierInitStd instead, where set.
     */
    WeightInit weightInit();

    /** Checks the common settings; families call this from their own validation. */
    static void validateCommon(ArchitectureConfig c) {
        Checks.require(c.input() != null, "input", "is required (C,H,W)");
        Checks.require(c.numClasses() >= 1, "numClasses", "must be at least 1, got " + c.numClasses());
        Checks.require(c.updater() != null, "updater", "is required");
        Checks.require(c.weightInit() != null, "weightInit", "is required");
    }
}
