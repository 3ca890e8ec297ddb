package org.zoo4j.modelfile;

import com.fasterxml.jackson.core.type.TypeReference;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;
import org.zoo4j.base.Checksums;
import org.zoo4j.base.Configs;
import org.zoo4j.data.Normalization;

/**
 * Reading a model file safely: a pinned SHA-256 first, then the entry names (nothing that could make DL4J run Java
 * deserialisation, no path outside the archive), then the card's digest, before DL4J reads anything.
 */
final class ModelFileIntegrity {
    private ModelFileIntegrity() {
    }

    /** The zoo4j entries of a file, read and verified (see {@link #readVerified}). */
    record Contents(Map<String, String> json, ModelFileCard card) {
        <T> T get(String entry, Class<T> type) {
            return json.containsKey(entry) ? Configs.fromJson(json.get(entry), type) : null;
        }

        <T> T get(String entry, TypeReference<T> type) throws IOException {
            return json.containsKey(entry) ? Configs.json().readValue(json.get(entry), type) : null;
        }
    }

    /** An entry's text, or null when the zip has none of that name. */
    static String readEntry(ZipFile zip, String name) throws IOException {
        ZipEntry entry = zip.getEntry(name);
        if (entry == null) {
            return null;
        }
        try (InputStream in = zip.getInputStream(entry)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /**
     * The digest of every entry of {@code zip} but the card, with {@code replaced} ones taken from the map (and added
     * where the zip has none): DL4J's entries first, then zoo4j's by name.
     */
    static ModelFileCard.Digest digest(ZipFile zip, Map<String, String> replaced) throws IOException {
        return ModelFileCard.Digest.of(zip, sealed(zip, replaced.keySet()), replaced);
    }

    /** The entries a digest covers: all but the card, in hashing order. */
    private static List<String> sealed(ZipFile zip, Collection<String> added) {
        TreeSet<String> own = new TreeSet<>(added);
        List<String> dl4j = new ArrayList<>();
        for (Enumeration<? extends ZipEntry> all = zip.entries(); all.hasMoreElements(); ) {
            own.add(all.nextElement().getName());
        }
        for (String name : ModelFile.DL4J_ENTRIES) {
            if (own.remove(name)) {
                dl4j.add(name);
            }
        }
        own.remove(ModelFile.CARD);
        dl4j.addAll(own);
        return dl4j;
    }

    /**
     * Refuses model files that could make DL4J run Java deserialisation or that name paths outside an archive: only
     * {@link ModelFile#DL4J_ENTRIES} and {@code zoo4j/NAME.json} entries are allowed.
     */
    static void checkEntries(Path file, ZipFile zip) {
        for (Enumeration<? extends ZipEntry> all = zip.entries(); all.hasMoreElements(); ) {
            String name = all.nextElement().getName();
            if (!ModelFile.DL4J_ENTRIES.contains(name) && !ModelFile.ZOO4J_ENTRY.matcher(name).matches()) {
                throw new UnsafeModelFileException(file + ": refused: unexpected entry '" + name + "'; a zoo4j model "
                        + "file holds only " + ModelFile.DL4J_ENTRIES + " and zoo4j/*.json entries (Java-serialised "
                        + "objects such as normalizer.bin and paths outside the archive are never read). Do not use "
                        + "this file.");
            }
        }
    }

    /**
     * The zoo4j JSON entries of a model file, after checking a pinned SHA-256, refusing unsafe entries
     * ({@link #checkEntries}) and checking the card's digest as {@code trust} says.
     */
    static Contents readVerified(Path file, ModelFile.Trust trust) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new ModelFileException(file + ": no such file (a model file .zip or a run directory)");
        }
        if (trust.sha256() != null && !Checksums.sha256(file).equalsIgnoreCase(trust.sha256())) {
            throw new ModelFileException(file + ": its SHA-256 is " + Checksums.sha256(file) + ", not the pinned "
                    + trust.sha256() + "; this is not the file you trust. Do not use it.");
        }
        Map<String, String> json = new LinkedHashMap<>();
        ModelFileCard card = null;
        try (ZipFile zip = new ZipFile(file.toFile())) {
            checkEntries(file, zip);
            String cardJson = readEntry(zip, ModelFile.CARD);
            if (cardJson != null) {
                card = Configs.fromJson(cardJson, ModelFileCard.class);
                verify(file, zip, card, trust);
            } else if (!trust.allowUnverified() && trust.sha256() == null) {
                throw new ModelFileException(file + ": no model card (" + ModelFile.CARD + "), so nothing can say "
                        + "whether the file is whole and unchanged; zoo4j writes one into every model file. If you "
                        + "trust this file, load it with --allow-unverified (Java: ModelFile.Trust), or pin its SHA-256 "
                        + "with --sha256");
            }
            for (String name : List.of(ModelFile.RECIPE, ModelFile.LABELS, ModelFile.PREPROCESSING, ModelFile.METRICS,
                    ModelFile.STATE, ModelFile.LOOP, Normalization.MODEL_ENTRY)) {
                String text = readEntry(zip, name);
                if (text != null) {
                    json.put(name, text);
                }
            }
        } catch (ZipException e) {
            throw new ModelFileException(file + ": not a model file (not a zip: " + e.getMessage() + ")");
        }
        return new Contents(json, card);
    }

    /** The card's digest must match and cover every entry, unless the caller trusts the file anyway. */
    private static void verify(Path file, ZipFile zip, ModelFileCard card, ModelFile.Trust trust) throws IOException {
        ModelFileCard.Digest actual = digest(zip, Map.of());
        if (card.sha256() == null || !card.sha256().value().equals(
                ModelFileCard.Digest.of(zip, card.sha256().covers(), Map.of()).value())) {
            throw new ModelFileException(file + ": SHA-256 check failed: the card records "
                    + (card.sha256() == null ? "no digest" : card.sha256().value() + " over " + card.sha256().covers())
                    + " but the file's entries give " + actual.value() + " over " + actual.covers()
                    + "; the file was changed after zoo4j wrote it, or is damaged. Do not use it: download or train "
                    + "it again.");
        }
        List<String> uncovered = new ArrayList<>(actual.covers());
        uncovered.removeAll(card.sha256().covers());
        if (!uncovered.isEmpty() && !trust.allowUnverified() && trust.sha256() == null) {
            throw new ModelFileException(file + ": entries " + uncovered + " are not covered by the card's digest "
                    + "(added after zoo4j wrote the file, or written by a zoo4j that sealed fewer entries); if you "
                    + "trust this file, load it with --allow-unverified or pin its SHA-256 with --sha256");
        }
    }
}
