package org.zoo4j.data;

import org.zoo4j.base.UserInputException;

/**
 * Data that cannot be used as it is: a missing, truncated or corrupt file, a checksum mismatch, a bad folder layout.
 * The message names the file and what was expected, and says what to do; the command line prints it as one line.
 */
public class DataException extends UserInputException {
    public DataException(String message) {
        super(message);
    }

    public DataException(String message, Throwable cause) {
        super(message, cause);
    }
}
