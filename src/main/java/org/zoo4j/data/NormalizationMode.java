package org.zoo4j.data;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/** How pixel values (0 to 255) are turned into network inputs. */
public enum NormalizationMode {
    /** Raw pixel values, 0 to 255. */
    NONE,
    /** Divided by 255, giving [0, 1]. */
    SCALE,
    /** Divided by 255, then per channel (x - mean) / std with mean and std fitted on the training split. */
    STANDARDIZE;

    @JsonCreator
    public static NormalizationMode parse(String text) {
        try {
            return valueOf(text.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException | NullPointerException e) {
            throw new IllegalArgumentException("normalization: expected none, scale or standardize, got '" + text + "'");
        }
    }

    @JsonValue
    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}
