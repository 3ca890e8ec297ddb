package org.zoo4j.transfer;

import org.zoo4j.base.UserInputException;

/**
 * Weights that cannot be used: a weights file that is not what it claims to be, or tensors that do not fit the network
 * they are loaded into (missing, unexpected, or of another shape). The message lists what does not fit.
 */
public class WeightsException extends UserInputException {
    public WeightsException(String message) {
        super(message);
    }
}
