package org.zoo4j.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.apache.spark.serializer.KryoSerializer;
import org.apache.spark.serializer.SerializerInstance;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.zoo4j.recipe.SparkSettings;
import org.zoo4j.recipe.TrainingRecipe;
import org.zoo4j.training.RecipeNetworks;
import scala.reflect.ClassTag$;

/**
 * Every shipped recipe's network configuration survives Spark's Kryo serialisation, with the settings a zoo4j job
 * uses: on a cluster the training master broadcasts it to the executors this way (in {@code local[N]} the broadcast is
 * never serialised, so only a real cluster would show it). A configuration holding an immutable list (the recipe's
 * weight decay did) fails on the executor as Kryo rebuilds the list by adding to one of the same class.
 */
@Tag("spark")
class KryoConfigurationTest {
    static Stream<Path> recipes() throws Exception {
        try (Stream<Path> files = Files.list(Path.of("training"))) {
            List<Path> yaml = files.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
            return yaml.stream();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("recipes")
    void theNetworkConfigurationSurvivesSparksKryo(Path recipeFile) throws Exception {
        TrainingRecipe recipe = TrainingRecipe.read(recipeFile);
        ComputationGraphConfiguration conf = RecipeNetworks.build(recipe, 10).getConfiguration();
        SerializerInstance kryo = new KryoSerializer(SparkClusters.conf(SparkSettings.on("local[2]"), "kryo-test"))
                .newInstance();
        ByteBuffer bytes = kryo.serialize(conf, ClassTag$.MODULE$.apply(ComputationGraphConfiguration.class));
        ComputationGraphConfiguration back = kryo.deserialize(bytes,
                ClassTag$.MODULE$.apply(ComputationGraphConfiguration.class));
        assertEquals(conf.toJson(), back.toJson(), recipeFile.toString());
    }
}
