package org.zoo4j.base;

/** Validation that names the field and the limit, so that a bad config fails at build time with a clear message. */
public final class Checks {
    private Checks() {
    }

    /** Throws {@code IllegalArgumentException("field: message")} unless {@code condition}. */
    public static void require(boolean condition, String field, String message) {
        if (!condition) {
            throw new ConfigException(field + ": " + message);
        }
    }
}
