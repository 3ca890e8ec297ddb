package org.zoo4j.recipe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.zoo4j.base.ConfigException;
import org.zoo4j.base.Configs;
import org.zoo4j.sweep.DistributedSweep;
import org.zoo4j.training.DistributedTraining;

/** The recipe's spark: section, and the message a build without Spark gives (any build: no provider is passed). */
class SparkSettingsTest {
    @Test
    void theSectionReadsWithDefaultsAndRoundTrips() {
        TrainingRecipe recipe = Configs.fromYaml("""
                model: lenet5
                spark: {master: "local[2]", trainingMaster: sharing, conf: {spark.executor.instances: "4"}}
                """, TrainingRecipe.class);
        SparkSettings s = recipe.spark();
        assertTrue(recipe.onSpark());
        assertEquals(SparkSettings.Mode.SHARING, s.trainingMaster());
        assertEquals(5, s.averagingFrequency());
        assertEquals("2g", s.executorMemory());
        assertEquals(1, s.threadsPerTask());
        assertEquals(SparkSettings.DataSource.PIPELINE, s.data());
        assertEquals(Map.of("spark.executor.instances", "4"), s.conf());
        assertEquals(recipe, Configs.fromYaml(recipe.toYaml(), TrainingRecipe.class));
        assertFalse(TrainingRecipe.defaults().onSpark());
        assertNull(TrainingRecipe.defaults().spark(), "no spark: section unless asked for");
    }

    @Test
    void commandLineSettingsStartTheSectionAndBlankMasterTurnsItOff() {
        TrainingRecipe on = TrainingRecipe.defaults().with(Map.of("spark.master", "spark://127.0.0.1:7077",
                "spark.averagingFrequency", "10", "spark.conf.spark.task.maxFailures", "8"));
        assertEquals("spark://127.0.0.1:7077", on.spark().master());
        assertEquals(10, on.spark().averagingFrequency());
        assertEquals("8", on.spark().conf().get("spark.task.maxFailures"));
        assertFalse(on.with(Map.of("spark.master", "")).onSpark(), "--set spark.master= trains locally again");
        assertEquals(3L << 30, SparkSettings.bytes("3g"));
        assertEquals(1536L << 20, SparkSettings.bytes("1536m"));
    }

    @Test
    void badSettingsAreOneLineErrorsNamingTheSetting() {
        for (Map.Entry<String, String> bad : List.of(Map.entry("spark.master", "localhost:7077"),
                Map.entry("spark.trainingMaster", "ring-allreduce"), Map.entry("spark.executorMemory", "lots"),
                Map.entry("spark.averagingFrequency", "0"), Map.entry("spark.port", "80"))) {
            Map<String, String> settings = new java.util.LinkedHashMap<>(Map.of("spark.master", "local[2]"));
            settings.put(bad.getKey(), bad.getValue());
            ConfigException e = assertThrows(ConfigException.class, () -> TrainingRecipe.defaults().with(settings),
                    bad.toString());
            assertTrue(e.getMessage().contains(bad.getKey().substring("spark.".length())), e.getMessage());
        }
        ConfigException both = assertThrows(ConfigException.class,
                () -> TrainingRecipe.defaults().with(Map.of("spark.master", "local[2]", "workers", "2")));
        assertTrue(both.getMessage().contains("spark.workers"), both.getMessage());
    }

    @Test
    void aBuildWithoutSparkNamesTheBuildFlag() {
        ConfigException e = assertThrows(ConfigException.class, () -> DistributedTraining.find(List.of()));
        assertTrue(e.getMessage().contains("ZOO4J_MVN_ARGS=-Pspark"), e.getMessage());
        assertTrue(DistributedSweep.HINT.contains("-Pspark"));
    }
}
