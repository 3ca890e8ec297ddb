package org.zoo4j.modelfile;

import org.zoo4j.base.UserInputException;

/** A file given as a model that zoo4j will not use: not a model file, damaged, failing its checksum, or unsafe. */
public class ModelFileException extends UserInputException {
    public ModelFileException(String message) {
        super(message);
    }

    public ModelFileException(String message, Throwable cause) {
        super(message, cause);
    }
}
