package org.zoo4j.modelfile;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.zoo4j.base.Checksums;
import org.zoo4j.base.InputShape;
import org.zoo4j.data.DataConfig;
import org.zoo4j.data.Normalization;
import org.zoo4j.zoo.ModelRegistry;

/**
 * The card of a trained model, stored as {@value ModelFile#CARD} inside its model file: what the network is, what it
 * expects, what it was trained on and how well it did, and a digest that {@link ModelFile#load} checks.
 *
 * @param format        version of this card's layout (1)
 * @param zoo4jVersion  the zoo4j version that wrote the file ("development build" outside a release jar)
 * @param model         the registered model name, e.g. lenet5
 * @param architecture  the resolved settings of the model's config (input, numClasses, updater, ...), as in
 *                      {@code zoo/MODEL.yaml} plus the recipe's overrides: {@code ModelRegistry.builtIn().get(model).config(architecture)}
 *                      rebuilds the same configuration
 * @param input         the input shape C,H,W the network takes
 * @param labels        class names; output i is {@code labels.get(i)}
 * @param normalization the normaliser applied to 0-255 pixel values before the network
 * @param preprocessing how images are turned into input
 * @param dataset       the data section of the recipe the model was trained with
 * @param finetunedFrom the model file this one was fine-tuned from, as its recipe names it; null when trained from scratch
 * @param finetunedFromSha256 the SHA-256 of that file (sha256sum), which names it wherever it is copied to
 * @param metrics       the final test metrics; null until the run has finished
 * @param sha256        digest of the entries that define the model's behaviour; see {@link Digest}
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ModelFileCard(int format, String zoo4jVersion, String model, Map<String, Object> architecture,
                            InputShape input, List<String> labels, Normalization normalization,
                            ModelFile.Preprocessing preprocessing, DataConfig dataset, String finetunedFrom,
                            String finetunedFromSha256,
                            Map<String, Object> metrics, Digest sha256) {

    /**
     * SHA-256 over the listed entries of the model file, in the listed order; for each entry the hash takes its name
     * (UTF-8), a zero byte, its length as 8 bytes big-endian and its bytes. It covers DL4J's configuration,
     * parameters and (in checkpoints) updater state, and the labels, normaliser and preprocessing entries: everything
     * that changes what the model predicts. The card itself, metrics and training state are not covered; zoo4j
     * re-seals the digest whenever it rewrites a file.
     *
     * @param covers the entries hashed
     * @param value  the digest, lower-case hex
     */
    public record Digest(List<String> covers, String value) {
        /** The digest of {@code names} of {@code zip} that exist, with {@code replaced} ones taken from the map. */
        static Digest of(ZipFile zip, List<String> names, Map<String, String> replaced) throws IOException {
            MessageDigest sha = Checksums.sha256();
            List<String> covered = new ArrayList<>();
            byte[] buffer = new byte[1 << 16];
            for (String name : names) {
                byte[] given = replaced.containsKey(name) ? replaced.get(name).getBytes(StandardCharsets.UTF_8) : null;
                ZipEntry entry = given == null ? zip.getEntry(name) : null;
                if (given == null && entry == null) {
                    continue;
                }
                covered.add(name);
                sha.update(name.getBytes(StandardCharsets.UTF_8));
                sha.update((byte) 0);
                if (given != null) {
                    sha.update(ByteBuffer.allocate(8).putLong(given.length).array());
                    sha.update(given);
                } else {
                    // The length first, from the bytes actually read (the zip's recorded size could lie): hash a
                    // count pass, then the bytes.
                    long length = 0;
                    try (InputStream data = zip.getInputStream(entry)) {
                        for (int n; (n = data.read(buffer)) > 0; ) {
                            length += n;
                        }
                    }
                    sha.update(ByteBuffer.allocate(8).putLong(length).array());
                    try (InputStream data = zip.getInputStream(entry)) {
                        for (int n; (n = data.read(buffer)) > 0; ) {
                            sha.update(buffer, 0, n);
                        }
                    }
                }
            }
            return new Digest(List.copyOf(covered), HexFormat.of().formatHex(sha.digest()));
        }
    }

    /**
     * The card of a network trained outside a recipe (a DL4J user's own, through the training loop): what it is
     * ({@code model}, e.g. its class) and its labels; its digest is sealed when the file is written.
     */
    public static ModelFileCard of(String model, List<String> labels) {
        return new ModelFileCard(1, currentVersion(), model, null, null, labels, null, null, null, null, null, null,
                null);
    }

    ModelFileCard withDigest(Digest d) {
        return new ModelFileCard(format, zoo4jVersion, model, architecture, input, labels, normalization, preprocessing,
                dataset, finetunedFrom, finetunedFromSha256, metrics, d);
    }

    ModelFileCard withMetrics(Map<String, Object> m) {
        return new ModelFileCard(format, zoo4jVersion, model, architecture, input, labels, normalization, preprocessing,
                dataset, finetunedFrom, finetunedFromSha256, m, sha256);
    }

    static String currentVersion() {
        String v = ModelFileCard.class.getPackage().getImplementationVersion();
        return v == null ? "development build" : v;
    }
}
