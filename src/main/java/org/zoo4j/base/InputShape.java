package org.zoo4j.base;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

/**
 * The shape of one input image, channels first (NCHW without the batch dimension). Written "C,H,W" in configs and on
 * the command line, e.g. {@code 1,28,28} or {@code 3,224,224}.
 */
public record InputShape(int channels, int height, int width) {

    public InputShape {
        if (channels < 1 || height < 1 || width < 1) {
            throw new ConfigException(
                    "input: channels, height and width must all be at least 1, got " + channels + "," + height + "," + width);
        }
    }

    /** Parses "C,H,W" (also "CxHxW"). */
    @JsonCreator
    public static InputShape parse(String text) {
        String[] parts = text.trim().split("\\s*[,x]\\s*");
        if (parts.length != 3) {
            throw new ConfigException("input: expected channels,height,width such as 3,224,224, got '" + text + "'");
        }
        try {
            return new InputShape(Integer.parseInt(parts[0]), Integer.parseInt(parts[1]), Integer.parseInt(parts[2]));
        } catch (NumberFormatException e) {
            throw new ConfigException("input: expected three integers channels,height,width, got '" + text + "'");
        }
    }

    public static InputShape of(int channels, int height, int width) {
        return new InputShape(channels, height, width);
    }

    public InputShape withSize(int h, int w) {
        return new InputShape(channels, h, w);
    }

    @JsonValue
    @Override
    public String toString() {
        return channels + "," + height + "," + width;
    }
}
