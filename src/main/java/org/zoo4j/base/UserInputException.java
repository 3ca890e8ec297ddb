package org.zoo4j.base;

/**
 * Input that zoo4j cannot use and that the user can fix: a bad setting, recipe or option ({@link ConfigException}),
 * unusable data, a model that does not fit its input, weights that do not fit, a damaged or unsafe model file. The
 * message says what is wrong and what to do. The command line prints it as one line and exits with 2; any other
 * exception is a bug in zoo4j or below it, and is shown with its stack trace (exit 1).
 */
public class UserInputException extends IllegalArgumentException {
    public UserInputException(String message) {
        super(message);
    }

    public UserInputException(String message, Throwable cause) {
        super(message, cause);
    }
}
