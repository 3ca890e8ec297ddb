package org.zoo4j.base;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * Closed sets of settings written in lower case in recipes and on the command line ({@code monitor: loss},
 * {@code --mode fit,loop}): each is an enum, read here case-insensitively with an error that lists the choices.
 */
public final class Choices {
    private Choices() {
    }

    /** The constant of {@code type} named {@code text} (any case, '-' or '_'); {@code setting} names it in the error. */
    public static <E extends Enum<E>> E parse(Class<E> type, String setting, String text) {
        String wanted = text == null ? "" : text.trim().replace('-', '_').toUpperCase(Locale.ROOT);
        for (E e : type.getEnumConstants()) {
            if (e.name().equals(wanted)) {
                return e;
            }
        }
        throw new ConfigException(setting + ": one of " + list(type) + "; got '" + text + "'");
    }

    /**
     * An on/off system property ({@code -Dzoo4j.inferenceCopy=false}): true or false in any case, unset or blank for
     * {@code defaultValue}; anything else is refused rather than read as one of the two.
     */
    public static boolean flag(String property, boolean defaultValue) {
        String value = System.getProperty(property);
        if (value == null || value.isBlank()) {
            return defaultValue;
        }
        return switch (value.trim().toLowerCase(Locale.ROOT)) {
            case "true" -> true;
            case "false" -> false;
            default -> throw new ConfigException(property + "=" + value + ": give true or false");
        };
    }

    /** How a constant is written: its name in lower case, '_' as '-'. */
    public static String name(Enum<?> e) {
        return e.name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /** The choices, as they are written, separated by commas. */
    public static String list(Class<? extends Enum<?>> type) {
        return Arrays.stream(type.getEnumConstants()).map(Choices::name).collect(Collectors.joining(", "));
    }
}
