package org.zoo4j.zoo;

import org.zoo4j.base.ConfigException;

/**
 * A network that does not fit its input: a layer would receive fewer pixels than its kernel. The message names the
 * layer; at the registry it becomes a message about the {@code input} setting with the smallest input that works.
 */
public class ShapeException extends ConfigException {
    public ShapeException(String message) {
        super(message);
    }

    public ShapeException(String message, Throwable cause) {
        super(message, cause);
    }
}
