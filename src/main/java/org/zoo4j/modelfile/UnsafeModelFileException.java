package org.zoo4j.modelfile;

/**
 * A model file refused before anything in it was read: it holds an entry that could make DL4J run Java
 * deserialisation, or a name that points outside the archive.
 */
public class UnsafeModelFileException extends ModelFileException {
    public UnsafeModelFileException(String message) {
        super(message);
    }
}
