package org.zoo4j.base;

/**
 * A setting that cannot be used: in a recipe, a sweep file, a model's config or a command-line option. The message
 * names the setting ("data.batchSize: must be at least 1, got 0").
 */
public class ConfigException extends UserInputException {
    public ConfigException(String message) {
        super(message);
    }

    public ConfigException(String message, Throwable cause) {
        super(message, cause);
    }
}
