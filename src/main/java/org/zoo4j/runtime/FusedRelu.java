package org.zoo4j.runtime;

/**
 * A layer helper or vertex that can apply the plain ReLU which follows it inside its own training forward pass
 * ({@link OneDnnBatchNormHelper}, {@link ResidualAddVertex}); the {@link ReluActivationLayer} after it then passes its
 * input on unchanged in that pass, and still differentiates the ReLU in backprop.
 */
interface FusedRelu {
    /** Whether the last training forward pass taken here applied the ReLU (false: the ReLU layer must). */
    boolean reluAppliedInLastTrainingPass();
}
