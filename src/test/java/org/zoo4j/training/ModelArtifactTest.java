package org.zoo4j.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Enumeration;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.zoo4j.Zoo;
import org.zoo4j.base.Checksums;
import org.zoo4j.base.InputShape;
import org.zoo4j.data.Normalization;
import org.zoo4j.modelfile.ModelFile;
import org.zoo4j.modelfile.ModelFileCard;
import org.zoo4j.modelfile.ModelFileException;
import org.zoo4j.recipe.TrainingRecipe;
import org.zoo4j.runtime.Backend;

/** The model file as an artifact: card, digest, and refusal of entries that are not plain model data. */
class ModelArtifactTest {
    @TempDir
    Path dir;

    private static final List<String> LABELS = List.of("a", "b", "c");

    private Path model(ComputationGraph net) throws Exception {
        TrainingRecipe recipe = TrainingRecipe.defaults().withModel("lenet5", Map.of("seed", 3));
        Path file = dir.resolve("model.zip");
        ModelFile.write(file, net, recipe, LABELS, Normalization.standardize(new double[] {0.3}, new double[] {0.2}),
                InputShape.of(1, 28, 28));
        return file;
    }

    private static ComputationGraph lenet() {
        Backend.init();
        return Zoo.create("lenet5", Map.of("numClasses", 3, "seed", 3));
    }

    /** A copy of {@code file} with each entry's bytes passed through {@code edit} (null drops it), plus {@code extra}. */
    private Path rewrite(Path file, String name, BiFunction<String, byte[], byte[]> edit, Map<String, byte[]> extra)
            throws Exception {
        Path out = dir.resolve(name);
        try (ZipFile in = new ZipFile(file.toFile());
             ZipOutputStream zip = new ZipOutputStream(Files.newOutputStream(out))) {
            for (Enumeration<? extends ZipEntry> all = in.entries(); all.hasMoreElements(); ) {
                ZipEntry e = all.nextElement();
                byte[] bytes;
                try (InputStream data = in.getInputStream(e)) {
                    bytes = edit.apply(e.getName(), data.readAllBytes());
                }
                if (bytes != null) {
                    zip.putNextEntry(new ZipEntry(e.getName()));
                    zip.write(bytes);
                    zip.closeEntry();
                }
            }
            for (Map.Entry<String, byte[]> e : extra.entrySet()) {
                zip.putNextEntry(new ZipEntry(e.getKey()));
                zip.write(e.getValue());
                zip.closeEntry();
            }
        }
        return out;
    }

    @Test
    void aModelFileRoundTripsWithItsCardAndVerifiedDigest() throws Exception {
        ComputationGraph net = lenet();
        Path file = model(net);
        INDArray x = Nd4j.rand(DataType.FLOAT, 2, 1, 28, 28);
        ModelFile.Loaded loaded = Zoo.load(file);
        assertTrue(net.outputSingle(x).equalsWithEps(loaded.net().outputSingle(x), 1e-6));
        ModelFileCard card = loaded.card();
        assertNotNull(card);
        assertEquals("lenet5", card.model());
        assertEquals(LABELS, card.labels());
        assertEquals(InputShape.of(1, 28, 28), card.input());
        assertEquals(3, ((Number) card.architecture().get("numClasses")).intValue());
        assertEquals(Zoo.get("lenet5").config(card.architecture()), Zoo.get("lenet5").config(Map.of("numClasses", 3,
                "seed", 3)), "the card's architecture rebuilds the configuration");
        assertEquals(0.3, card.normalization().mean()[0]);
        assertEquals("fashion-mnist", card.dataset().dataset());
        assertEquals(List.of("configuration.json", "coefficients.bin", ModelFile.LABELS, Normalization.MODEL_ENTRY,
                ModelFile.PREPROCESSING, ModelFile.RECIPE), card.sha256().covers(), "every entry but the card");
        assertEquals(64, card.sha256().value().length());

        // Metrics written after the run go into the card too, are sealed with the rest, and the file still verifies.
        ModelFile.putEntries(file, Map.of(ModelFile.METRICS, "{\"testAccuracy\": 0.5}"));
        ModelFileCard updated = Zoo.load(file).card();
        assertEquals(0.5, ((Number) updated.metrics().get("testAccuracy")).doubleValue());
        assertTrue(updated.sha256().covers().contains(ModelFile.METRICS), updated.sha256().covers().toString());
        assertNotEquals(card.sha256().value(), updated.sha256().value());
    }

    @Test
    void aTamperedFileFailsItsDigestWithAClearError() throws Exception {
        Path file = model(lenet());
        Path weights = rewrite(file, "weights.zip", (name, bytes) -> {
            if (name.equals("coefficients.bin")) {
                bytes[bytes.length - 1] ^= 1;
            }
            return bytes;
        }, Map.of());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Zoo.load(weights));
        assertTrue(e.getMessage().contains("SHA-256 check failed") && e.getMessage().contains("changed"), e.getMessage());

        Path labels = rewrite(file, "labels.zip", (name, bytes) -> name.equals(ModelFile.LABELS)
                ? "[\"x\",\"b\",\"c\"]".getBytes(StandardCharsets.UTF_8) : bytes, Map.of());
        assertThrows(IllegalArgumentException.class, () -> Zoo.load(labels));

        // Removing the updater state or any covered entry changes what is covered, which is checked too.
        Path dropped = rewrite(file, "dropped.zip", (name, bytes) -> name.equals(Normalization.MODEL_ENTRY) ? null : bytes,
                Map.of());
        assertThrows(IllegalArgumentException.class, () -> Zoo.load(dropped));

        // The recipe is covered too: another dataset written into it is caught.
        Path recipe = rewrite(file, "recipe.zip", (name, bytes) -> name.equals(ModelFile.RECIPE) ? new String(bytes,
                StandardCharsets.UTF_8).replace("fashion-mnist", "mnist").getBytes(StandardCharsets.UTF_8) : bytes,
                Map.of());
        assertTrue(assertThrows(ModelFileException.class, () -> Zoo.load(recipe)).getMessage()
                .contains("SHA-256 check failed"));
    }

    @Test
    void aFileWithoutACardIsRefusedUnlessTrustedOrPinned() throws Exception {
        Path file = model(lenet());
        Path uncarded = rewrite(file, "uncarded.zip", (name, bytes) -> name.equals(ModelFile.CARD) ? null : bytes,
                Map.of());
        String refused = assertThrows(ModelFileException.class, () -> Zoo.load(uncarded)).getMessage();
        assertTrue(refused.contains("no model card") && refused.contains("--allow-unverified")
                && refused.contains("--sha256"), refused);
        assertNull(Zoo.load(uncarded, new ModelFile.Trust(true, null)).card(), "loads at the user's word");
        assertNull(Zoo.load(uncarded, ModelFile.Trust.pinned(Checksums.sha256(uncarded))).card(), "or pinned");
        String pinned = assertThrows(ModelFileException.class, () -> Zoo.load(file,
                ModelFile.Trust.pinned(Checksums.sha256(uncarded)))).getMessage();
        assertTrue(pinned.contains("not the pinned"), pinned);

        // Damaged weights in a trusted file: a clear error, not an EOFException from DL4J.
        Path truncated = rewrite(uncarded, "truncated.zip", (name, bytes) -> name.equals("coefficients.bin")
                ? Arrays.copyOf(bytes, bytes.length / 2) : bytes, Map.of());
        String damaged = assertThrows(ModelFileException.class, () -> Zoo.load(truncated,
                new ModelFile.Trust(true, null))).getMessage();
        assertTrue(damaged.contains("damaged"), damaged);
    }

    @Test
    void entriesTheCardDoesNotCoverAreRefused() throws Exception {
        Path file = model(lenet());
        Path added = rewrite(file, "added.zip", (name, bytes) -> bytes,
                Map.of("zoo4j/extra.json", "{}".getBytes(StandardCharsets.UTF_8)));
        String e = assertThrows(ModelFileException.class, () -> Zoo.load(added)).getMessage();
        assertTrue(e.contains("zoo4j/extra.json") && e.contains("not covered"), e);
        Zoo.load(added, new ModelFile.Trust(true, null)); // the covered entries still verify
    }

    /** Sets a flag when Java deserialisation reads it: the test fails if anything deserialises it. */
    static final class Payload implements Serializable {
        static volatile boolean deserialised;

        private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
            in.defaultReadObject();
            deserialised = true;
        }
    }

    @Test
    void entriesThatCouldDeserialiseOrEscapeAreRefusedAndNothingIsWritten() throws Exception {
        Path file = model(lenet());
        ByteArrayOutputStream serialised = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(serialised)) {
            out.writeObject(new Payload());
        }
        for (String entry : List.of("normalizer.bin", "preprocessor.bin", "../evil", "zoo4j/../../evil.json",
                "/tmp/evil")) {
            Path bad = rewrite(file, "bad.zip", (name, bytes) -> bytes, Map.of(entry, serialised.toByteArray()));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Zoo.load(bad), entry);
            assertTrue(e.getMessage().contains("refused") && e.getMessage().contains(entry), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> ModelFile.load(bad, true), entry);
        }
        assertFalse(Payload.deserialised, "no Java deserialisation ran");
        assertFalse(Files.exists(dir.getParent().resolve("evil")), "nothing written outside");
        assertFalse(Files.exists(dir.resolve("evil")));
        try (var listing = Files.list(dir)) {
            assertEquals(List.of("bad.zip", "model.zip"), listing.map(p -> p.getFileName().toString()).sorted().toList(),
                    "loading extracts nothing");
        }
    }
}
