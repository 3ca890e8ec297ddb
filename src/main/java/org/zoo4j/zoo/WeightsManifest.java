package org.zoo4j.zoo;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.zoo4j.base.Choices;
import org.zoo4j.base.ConfigException;
import org.zoo4j.base.Configs;

/**
 * The published weight sets zoo4j knows, as written in {@code zoo/weights.yaml}: where to download each, how to check
 * it, which zoo model it fits, its licence, preprocessing and published accuracy. URLs and digests live only there.
 */
public record WeightsManifest(Map<String, Entry> weights) {
    /** Where the manifest is on the classpath (the pom copies {@code zoo/*.yaml} there). */
    public static final String RESOURCE = "zoo4j/zoo/weights.yaml";
    /** Where it is in a checkout. */
    public static final String REPO_FILE = "zoo/weights.yaml";

    public WeightsManifest {
        weights = weights == null ? Map.of() : new TreeMap<>(weights);
    }

    /** The file formats an entry can have. */
    public enum Format {
        /** A PyTorch state dict in safetensors: imported directly. */
        SAFETENSORS,
        /** A PyTorch pickle: downloaded and checked, but converted outside Java before import. */
        PTH,
        /**
         * A zoo4j model file (network, card, labels, normaliser) trained by zoo4j: shipped in the repository under
         * {@code zoo/weights/} and in the jar, so it needs no mirror; its full SHA-256 is required.
         */
        ZOO4J;

        @Override
        public String toString() {
            return Choices.name(this);
        }
    }

    /**
     * One weight set.
     *
     * @param model        the zoo model it fits (a registry name)
     * @param file         file name; also the last part of each URL
     * @param mirrors      base URLs, tried in order; none for a {@link Format#ZOO4J} set, which ships with the zoo
     * @param size         bytes, or 0 when not known
     * @param sha256       the full SHA-256, or null when not known
     * @param sha256Prefix leading hex digits of the SHA-256 (torchvision's file names carry 8), or null
     * @param accuracy     the published accuracy, or null where {@code sameAs} gives it
     * @param sameAs       the entry whose weights these are, republished (another file format or host): its accuracy
     *                     is these weights' accuracy, written once, there
     */
    public record Entry(String model, String title, Format format, String file, List<String> mirrors, Long size,
                        String sha256, String sha256Prefix, String licence, Preprocessing preprocessing,
                        Accuracy accuracy, String sameAs) {
        public Entry {
            mirrors = mirrors == null ? List.of() : List.copyOf(mirrors);
            size = size == null ? 0L : size;
        }

        /** Whether the download can be checked at all (a full digest or a prefix). */
        public boolean verifiable() {
            return sha256 != null || sha256Prefix != null;
        }

        /** How the download is checked, in words. */
        public String verification() {
            if (sha256 != null) {
                return "sha256 " + sha256;
            }
            return sha256Prefix != null ? "sha256 prefix " + sha256Prefix + " (full digest not published)" : "unverified";
        }
    }

    /** How inputs must be prepared for the published accuracy. */
    public record Preprocessing(int resize, int crop, double scale, List<Double> mean, List<Double> std,
                                String channels) {
    }

    public record Accuracy(String dataset, double top1, double top5, String source) {
    }

    /** The entries for {@code model}, by name. */
    public Map<String, Entry> forModel(String model) {
        Map<String, Entry> found = new TreeMap<>();
        weights.forEach((name, e) -> {
            if (e.model().equals(model)) {
                found.put(name, e);
            }
        });
        return found;
    }

    /** The published accuracy of the weights {@code name}: its own, or that of the entry it republishes. */
    public Accuracy accuracyOf(String name) {
        Entry e = get(name);
        return e.accuracy() != null || e.sameAs() == null ? e.accuracy() : get(e.sameAs()).accuracy();
    }

    /** The entry of that name, or an error listing the known ones. */
    public Entry get(String name) {
        Entry e = weights.get(name);
        if (e == null) {
            throw new ConfigException("unknown weights '" + name + "'; known: " + String.join(", ", weights.keySet()));
        }
        return e;
    }

    /** The manifest from the classpath, else from {@value #REPO_FILE} under the working directory. */
    public static WeightsManifest load() {
        try (InputStream in = WeightsManifest.class.getClassLoader().getResourceAsStream(RESOURCE)) {
            if (in != null) {
                return check(Configs.yaml().readValue(in, WeightsManifest.class));
            }
            Path file = Path.of(REPO_FILE);
            if (Files.isRegularFile(file)) {
                return read(file);
            }
        } catch (IOException e) {
            throw new IllegalStateException("weights manifest " + RESOURCE + " cannot be read: " + e.getMessage(), e);
        }
        throw new IllegalStateException("weights manifest not found: neither " + RESOURCE + " on the classpath nor "
                + REPO_FILE + " in " + Path.of("").toAbsolutePath());
    }

    public static WeightsManifest read(Path file) throws IOException {
        return check(Configs.yaml().readValue(file.toFile(), WeightsManifest.class));
    }

    public static WeightsManifest parse(String yaml) throws IOException {
        return check(Configs.yaml().readValue(yaml, WeightsManifest.class));
    }

    /** Catches manifest mistakes at load time rather than at download time. */
    private static WeightsManifest check(WeightsManifest m) {
        m.weights().forEach((name, e) -> {
            if (e.model() == null || e.format() == null || e.file() == null
                    || e.mirrors().isEmpty() && e.format() != Format.ZOO4J) {
                throw new IllegalStateException("weights manifest: " + name + " needs model, format, file and mirrors");
            }
            if (e.format() == Format.ZOO4J && (e.sha256() == null || e.size() <= 0)) {
                throw new IllegalStateException("weights manifest: " + name + ": a zoo4j set ships with the zoo, so its "
                        + "full sha256 and size are known: write them");
            }
            if (e.file().contains("/") || e.file().contains("\\") || e.file().startsWith(".")) {
                throw new IllegalStateException("weights manifest: " + name + ": file must be a plain name, got " + e.file());
            }
            if (e.sha256() != null && !e.sha256().matches("[0-9a-fA-F]{64}")) {
                throw new IllegalStateException("weights manifest: " + name + ": sha256 is not 64 hex digits");
            }
            if (e.sha256Prefix() != null && !e.sha256Prefix().matches("[0-9a-fA-F]{8,64}")) {
                throw new IllegalStateException("weights manifest: " + name + ": sha256Prefix is not 8 to 64 hex digits");
            }
            if (e.sameAs() != null && (!m.weights().containsKey(e.sameAs()) || e.accuracy() != null)) {
                throw new IllegalStateException("weights manifest: " + name + ": sameAs names another entry, and then "
                        + "the accuracy is that entry's (not written again)");
            }
        });
        return m;
    }
}
