package org.zoo4j.data;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.zoo4j.base.ConfigException;

/**
 * Random changes made to training images, applied in this order, each with its own probability: rotation, translation,
 * scaling, horizontal flip, pad-and-random-crop. Pixels that come from outside the image are black (0). Evaluation
 * data is never augmented. The same definition serves every source (idx, CIFAR and image folders).
 *
 * <p>In YAML either a map of the fields below or one string, as on the command line:
 * {@code "rotate=15,translate=0.1,scale=0.9:1.1,flip=0.5,crop=4"}; {@code @p} after a value sets that step's
 * probability ({@code "rotate=15@0.5"}), {@code scale=F} alone means {@code F:1/F}, {@code none} means no augmentation.
 *
 * @param rotate               largest rotation in degrees; the angle is uniform in [-rotate, rotate]; 0 = off
 * @param rotateProbability    chance that an image is rotated (default 1)
 * @param translate            largest shift as a fraction of width (x) and height (y), each uniform in
 *                             [-translate, translate]; 0 = off
 * @param translateProbability chance that an image is shifted (default 1)
 * @param scaleMin             smallest zoom factor (about the image centre); 1 with scaleMax 1 = off
 * @param scaleMax             largest zoom factor; the factor is uniform in [scaleMin, scaleMax]
 * @param scaleProbability     chance that an image is zoomed (default 1)
 * @param flip                 chance of a left-right mirror; 0 = off (not for digits)
 * @param crop                 padding in pixels for pad-and-random-crop (the CIFAR recipe): the image moves by a whole
 *                             number of pixels, uniform in [-crop, crop] on each axis; 0 = off
 * @param cropProbability      chance that an image is cropped (default 1)
 */
public record AugmentConfig(double rotate, double rotateProbability, double translate, double translateProbability,
                            double scaleMin, double scaleMax, double scaleProbability, double flip, int crop,
                            double cropProbability) {

    /** No augmentation. */
    public static final AugmentConfig NONE = new AugmentConfig(0, 1, 0, 1, 1, 1, 1, 0, 0, 1);

    public AugmentConfig {
        check("rotate", rotate, 0, 180);
        check("translate", translate, 0, 1);
        check("rotateProbability", rotateProbability, 0, 1);
        check("translateProbability", translateProbability, 0, 1);
        check("scaleProbability", scaleProbability, 0, 1);
        check("flip", flip, 0, 1);
        check("cropProbability", cropProbability, 0, 1);
        if (!(scaleMin > 0) || !(scaleMax >= scaleMin) || scaleMax > 10) {
            throw new ConfigException("augment.scale: needs 0 < min <= max <= 10, got " + scaleMin + ":" + scaleMax);
        }
        if (crop < 0 || crop > 1000) {
            throw new ConfigException("augment.crop: padding in pixels must be in [0, 1000], got " + crop);
        }
    }

    private static void check(String name, double value, double min, double max) {
        if (!(value >= min && value <= max)) {
            throw new ConfigException("augment." + name + ": must be in [" + min + ", " + max + "], got " + value);
        }
    }

    /** The YAML/JSON map form; a missing field takes its "off" value, a missing probability 1. */
    @JsonCreator
    static AugmentConfig fromMap(@JsonProperty("rotate") Double rotate,
                                 @JsonProperty("rotateProbability") Double rotateProbability,
                                 @JsonProperty("translate") Double translate,
                                 @JsonProperty("translateProbability") Double translateProbability,
                                 @JsonProperty("scaleMin") Double scaleMin, @JsonProperty("scaleMax") Double scaleMax,
                                 @JsonProperty("scaleProbability") Double scaleProbability,
                                 @JsonProperty("flip") Double flip, @JsonProperty("crop") Integer crop,
                                 @JsonProperty("cropProbability") Double cropProbability) {
        double min = scaleMin == null ? (scaleMax == null ? 1 : Math.min(1, scaleMax)) : scaleMin;
        double max = scaleMax == null ? Math.max(1, min) : scaleMax;
        return new AugmentConfig(or(rotate, 0), or(rotateProbability, 1), or(translate, 0), or(translateProbability, 1),
                min, max, or(scaleProbability, 1), or(flip, 0), crop == null ? 0 : crop, or(cropProbability, 1));
    }

    private static double or(Double value, double fallback) {
        return value == null ? fallback : value;
    }

    /** The string form, e.g. {@code "rotate=15,translate=0.1,scale=0.9:1.1,flip=0.5,crop=4@0.5"}; "" or "none" = off. */
    @JsonCreator(mode = JsonCreator.Mode.DELEGATING)
    public static AugmentConfig parse(String text) {
        if (text == null || text.isBlank() || text.trim().equalsIgnoreCase("none")) {
            return NONE;
        }
        Double rotate = null, rotateP = null, translate = null, translateP = null, scaleMin = null, scaleMax = null,
                scaleP = null, flip = null, cropP = null;
        Integer crop = null;
        for (String item : text.split(",")) {
            String[] kv = item.trim().split("=", 2);
            if (kv.length != 2 || kv[1].isBlank()) {
                throw new ConfigException("augment: expected name=value in '" + item.trim() + "' of '" + text
                        + "'; names: rotate, translate, scale, flip, crop (e.g. rotate=15,translate=0.1,scale=0.9:1.1)");
            }
            String name = kv[0].trim().toLowerCase(Locale.ROOT);
            String value = kv[1].trim();
            Double probability = null;
            int at = value.indexOf('@');
            if (at >= 0) {
                probability = number(name + " probability", value.substring(at + 1));
                value = value.substring(0, at);
            }
            switch (name) {
                case "rotate" -> { rotate = number(name, value); rotateP = probability; }
                case "translate" -> { translate = number(name, value); translateP = probability; }
                case "scale" -> {
                    String[] range = value.split(":", 2);
                    scaleMin = number(name, range[0]);
                    scaleMax = range.length == 2 ? number(name, range[1]) : 1 / scaleMin;
                    if (scaleMax < scaleMin) {
                        double t = scaleMin;
                        scaleMin = scaleMax;
                        scaleMax = t;
                    }
                    scaleP = probability;
                }
                case "flip" -> {
                    if (probability != null) {
                        throw new ConfigException("augment: flip=P already is a probability; write flip=0.5");
                    }
                    flip = number(name, value);
                }
                case "crop" -> {
                    double pad = number(name, value);
                    if (pad != Math.rint(pad)) {
                        throw new ConfigException("augment: crop is a padding in whole pixels, got " + value);
                    }
                    crop = (int) pad;
                    cropP = probability;
                }
                default -> throw new ConfigException("augment: unknown step '" + name
                        + "'; one of rotate, translate, scale, flip, crop");
            }
        }
        return fromMap(rotate, rotateP, translate, translateP, scaleMin, scaleMax, scaleP, flip, crop, cropP);
    }

    private static double number(String name, String text) {
        try {
            return Double.parseDouble(text.trim());
        } catch (NumberFormatException e) {
            throw new ConfigException("augment: " + name + " needs a number, got '" + text + "'");
        }
    }

    /** Every step on, as in the benchmark's "full augmentation". */
    public static AugmentConfig full() {
        return parse("rotate=15,translate=0.1,scale=0.9:1.1,flip=0.5,crop=4");
    }

    /** True when no step can change an image. */
    @JsonIgnore
    public boolean isNone() {
        return !rotates() && !translates() && !scales() && !(flip > 0) && !crops();
    }

    boolean rotates() {
        return rotate > 0 && rotateProbability > 0;
    }

    boolean translates() {
        return translate > 0 && translateProbability > 0;
    }

    boolean scales() {
        return (scaleMin != 1 || scaleMax != 1) && scaleProbability > 0;
    }

    boolean crops() {
        return crop > 0 && cropProbability > 0;
    }

    /** The string form that {@link #parse} reads back. */
    public String toSpec() {
        if (isNone()) {
            return "none";
        }
        List<String> items = new ArrayList<>();
        if (rotates()) {
            items.add("rotate=" + fmt(rotate) + prob(rotateProbability));
        }
        if (translates()) {
            items.add("translate=" + fmt(translate) + prob(translateProbability));
        }
        if (scales()) {
            items.add("scale=" + fmt(scaleMin) + ":" + fmt(scaleMax) + prob(scaleProbability));
        }
        if (flip > 0) {
            items.add("flip=" + fmt(flip));
        }
        if (crops()) {
            items.add("crop=" + crop + prob(cropProbability));
        }
        return String.join(",", items);
    }

    private static String prob(double p) {
        return p == 1 ? "" : "@" + fmt(p);
    }

    private static String fmt(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e9 ? Long.toString((long) v) : Double.toString(v);
    }
}
