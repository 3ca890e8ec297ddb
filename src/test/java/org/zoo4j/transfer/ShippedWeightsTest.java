package org.zoo4j.transfer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.zoo4j.SameBits;
import org.zoo4j.Zoo;
import org.zoo4j.base.Checksums;
import org.zoo4j.cli.Main;
import org.zoo4j.data.DataConfig;
import org.zoo4j.data.DataPipeline;
import org.zoo4j.modelfile.ModelFile;
import org.zoo4j.modelfile.ModelFileException;
import org.zoo4j.recipe.TrainingRecipe;
import org.zoo4j.training.EvaluationReport;
import org.zoo4j.zoo.ModelRegistry;
import org.zoo4j.zoo.WeightsManifest;

/**
 * The trained models that ship with the zoo (format zoo4j in zoo/weights.yaml), generic over the manifest: each is in
 * the jar as its entry describes it, loads by name, and gives the test accuracy its entry publishes.
 */
class ShippedWeightsTest {
    @TempDir
    static Path cache;

    private static String before;

    @BeforeAll
    static void privateCache() {
        before = System.getProperty(WeightsCache.CACHE_PROPERTY);
        System.setProperty(WeightsCache.CACHE_PROPERTY, cache.toString());
    }

    @AfterAll
    static void restoreCache() {
        if (before == null) {
            System.clearProperty(WeightsCache.CACHE_PROPERTY);
        } else {
            System.setProperty(WeightsCache.CACHE_PROPERTY, before);
        }
    }

    static List<String> shipped() {
        return PretrainedWeights.shipped(ModelRegistry.builtIn().weights());
    }

    private static WeightsManifest.Entry entry(String name) {
        return ModelRegistry.builtIn().weights().get(name);
    }

    @Test
    void theZooShipsItsTrainedLeNet5AndResNet20() {
        for (String model : List.of("lenet5", "resnet20")) {
            String name = model + ".zoo4j-fashion-mnist";
            assertTrue(shipped().contains(name), shipped().toString());
            assertTrue(ModelRegistry.builtIn().get(model).weights().containsKey(name),
                    "the registry links the model to its shipped weights: " + name);
        }
    }

    @ParameterizedTest
    @MethodSource("shipped")
    void eachIsInTheJarAsItsEntrySays(String name) throws Exception {
        WeightsManifest.Entry e = entry(name);
        byte[] bytes;
        try (InputStream in = getClass().getClassLoader().getResourceAsStream(WeightsCache.SHIPPED + e.file())) {
            assertNotNull(in, WeightsCache.SHIPPED + e.file());
            bytes = in.readAllBytes();
        }
        assertEquals(e.size(), bytes.length, name + ": size");
        Path copy = cache.resolve(name + ".check.zip");
        Files.write(copy, bytes);
        assertEquals(e.sha256(), Checksums.sha256(copy), name + ": sha256");
        ModelFile.Loaded loaded = Zoo.pretrained(name);
        assertEquals(e.model(), loaded.card().model(), name + ": the card's model is the entry's");
        assertEquals(Path.of(cache.toString(), name, e.file()), PretrainedWeights.resolve(name,
                new WeightsCache(WeightsCache.defaultRoot(), null)), "copied into the cache, by name");
    }

    /** The whole test split: the entry's figure is what the shipped file gives, to 5 images in 10,000. */
    @ParameterizedTest
    @MethodSource("shipped")
    void eachGivesThePublishedTestAccuracy(String name) throws Exception {
        WeightsManifest.Entry e = entry(name);
        ModelFile.Loaded loaded = Zoo.pretrained(name);
        DataConfig data = loaded.recipe().data().withDownload(false);
        try (DataPipeline pipeline = DataPipeline.open(data, loaded.preprocessing().input(), loaded.normalization())) {
            EvaluationReport report = EvaluationReport.of(loaded.net(), pipeline.test(), loaded.labels(), null);
            System.out.printf("%s: test accuracy %.4f on %d images (manifest %.2f%%)%n", name, report.accuracy(),
                    report.count(), e.accuracy().top1());
            assertEquals(e.accuracy().top1(), 100 * report.accuracy(), 0.05, name);
        }
    }

    @ParameterizedTest
    @MethodSource("shipped")
    void zooCreateWithTheSetGivesTheTrainedParameters(String name) throws Exception {
        WeightsManifest.Entry e = entry(name);
        ModelFile.Loaded loaded = Zoo.pretrained(name);
        ComputationGraph created = Zoo.create(e.model(), loaded.recipe().modelOverrides(loaded.labels().size()), name);
        assertTrue(SameBits.same(loaded.net().params(), created.params()), name + ": every parameter, the head too");
    }

    /** {@code finetune --from NAME}: the run records the name and the file's digest, and keeps its normaliser. */
    @Test
    void aShippedModelStartsAFineTuningRunByName() throws Exception {
        String name = "lenet5.zoo4j-fashion-mnist";
        Path run = cache.resolve("finetuned");
        int code = Main.commandLine().execute("finetune", "--from", name, "--offline", "--subset", "200", "--epochs",
                "1", "--set", "data.classes=0,1,2", "--feature-extractor", "--out", run.toString());
        assertEquals(0, code);
        TrainingRecipe recipe = TrainingRecipe.read(run.resolve("recipe.yaml"));
        assertEquals(name, recipe.finetune().from(), "the name, so that the recipe runs again on another machine");
        assertEquals(entry(name).sha256(), recipe.finetune().sha256());
        assertEquals(Zoo.pretrained(name).normalization(), Zoo.load(run).normalization());
        assertEquals(List.of("T-shirt/top", "Trouser", "Pullover"), Zoo.load(run).labels());
    }

    @Test
    void anUnknownNameSaysWhatShips() {
        ModelFileException e = assertThrows(ModelFileException.class, () -> PretrainedWeights.resolve("no-such-model",
                new WeightsCache(cache, null)));
        assertTrue(e.getMessage().contains("lenet5.zoo4j-fashion-mnist"), e.getMessage());
    }
}
