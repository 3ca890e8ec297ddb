package org.zoo4j.sweep;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.arbiter.MultiLayerSpace;
import org.deeplearning4j.arbiter.conf.updater.AdamSpace;
import org.deeplearning4j.arbiter.layers.DenseLayerSpace;
import org.deeplearning4j.arbiter.layers.OutputLayerSpace;
import org.deeplearning4j.arbiter.optimize.api.ParameterSpace;
import org.deeplearning4j.arbiter.optimize.distribution.LogUniformDistribution;
import org.deeplearning4j.arbiter.optimize.parameter.continuous.ContinuousParameterSpace;
import org.deeplearning4j.arbiter.optimize.parameter.integer.IntegerParameterSpace;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.zoo4j.recipe.TrainingRecipe;
import org.zoo4j.training.Trainer;
import org.zoo4j.training.TrainingLoop;
import org.zoo4j.zoo.Dl4jNetworkFile;

/** A sweep over the user's own Arbiter MultiLayerSpace: trials train its networks, and each trial runs again as-is. */
class NetworkSpaceSweepTest {
    private static final PrintStream QUIET = new PrintStream(OutputStream.nullOutputStream());

    @TempDir
    Path dir;

    private static MultiLayerSpace denseNetworks() {
        return new MultiLayerSpace.Builder()
                .seed(7)
                .updater(AdamSpace.withLR(new ContinuousParameterSpace(new LogUniformDistribution(1e-3, 1e-2))))
                .addLayer(new DenseLayerSpace.Builder().nOut(new IntegerParameterSpace(8, 32))
                        .activation(Activation.RELU).build())
                .addLayer(new OutputLayerSpace.Builder().nOut(10).activation(Activation.SOFTMAX)
                        .lossFunction(LossFunctions.LossFunction.MCXENT).build())
                .setInputType(InputType.convolutional(28, 28, 1))
                .build();
    }

    private static TrainingRecipe base() {
        return TrainingRecipe.defaults().withModel("lenet5", Map.of("input", "1,28,28"))
                .with(Map.of("epochs", "1", "data.subset", "300", "data.batchSize", "32", "data.download", "false"));
    }

    @Test
    void trialsTrainTheSpacesNetworksAndRunAgainAsTheyAre() throws Exception {
        Map<String, ParameterSpace<?>> space = new LinkedHashMap<>();
        space.put(SearchSpace.MODEL, denseNetworks());
        space.put("data.batchSize", SearchSpace.choice("data.batchSize", List.of(32, 64)));
        SweepSpec spec = SweepSpec.of("net", base(), space, SweepSpec.Objective.VALIDATION_ACCURACY, 2, 0,
                new SamplerSpec.Random(3), PrunerSpec.NONE);
        assertEquals(List.of("model[0]", "model[1]", "data.batchSize"), spec.space().settingKeys());
        Sweep sweep = Sweep.of(spec, dir.resolve("net"));
        sweep.run(1, QUIET);

        List<SweepStore.Trial> trials = sweep.store().trials();
        assertEquals(2, trials.size());
        for (SweepStore.Trial t : trials) {
            assertEquals(SweepStore.State.COMPLETE, t.state(), t.reason());
            Path trialDir = sweep.trialDir(t.number());
            // The trial trained the network at its point: its hidden width is one of the settings shown for it.
            MultiLayerConfiguration network = MultiLayerConfiguration.fromJson(
                    Files.readString(trialDir.resolve(Dl4jNetworkFile.RUN_FILE)));
            long width = ((DenseLayer) network.getConf(0).getLayer()).getNOut();
            assertTrue(width >= 8 && width <= 32, "width " + width);
            assertTrue(List.of(t.params().get("model[0]"), t.params().get("model[1]")).contains(Long.toString(width)),
                    t.params() + " vs width " + width);
            assertTrue(Files.readString(trialDir.resolve("recipe.yaml")).contains("model: \"network.json\"")
                    || Files.readString(trialDir.resolve("recipe.yaml")).contains("model: network.json"));
        }
        assertTrue(Files.readString(sweep.dir().resolve("report.html")).contains("model[0]"));

        // The trial's recipe, read from anywhere, trains the same network again.
        Path first = sweep.trialDir(trials.get(0).number());
        TrainingRecipe again = TrainingRecipe.read(first.resolve("recipe.yaml"));
        Path rerun = dir.resolve("rerun");
        try (Trainer trainer = Trainer.start(again, rerun, QUIET)) {
            TrainingLoop.Result result = trainer.run();
            assertEquals(TrainingLoop.Status.COMPLETED, result.status());
            assertTrue(result.test().accuracy() > 0.3, "test accuracy " + result.test().accuracy());
        }
        assertEquals(Files.readString(first.resolve(Dl4jNetworkFile.RUN_FILE)), Files.readString(rerun.resolve(
                Dl4jNetworkFile.RUN_FILE)));
        // Resumed with a changed setting, the run still names its own copy of the network.
        try (Trainer trainer = Trainer.resume(rerun, Map.of("epochs", "2"), QUIET)) {
            assertEquals(TrainingLoop.Status.COMPLETED, trainer.run().status());
        }
        assertEquals("network.json", TrainingRecipe.read(rerun.resolve("recipe.yaml")).model()
                .replace(rerun.toAbsolutePath() + "/", ""));
        assertTrue(Files.readString(rerun.resolve("recipe.yaml")).matches("(?s).*model: \"?network\\.json.*"));
    }

    @Test
    void modelSettingsThatCannotApplyToTheSpacesNetworksAreRefusedBeforeAnyTrial() {
        Map<String, ParameterSpace<?>> space = Map.of(SearchSpace.MODEL, denseNetworks());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SweepSpec.of("net",
                TrainingRecipe.defaults(), space, SweepSpec.Objective.VALIDATION_ACCURACY, 2, 0,
                new SamplerSpec.Random(3), PrunerSpec.NONE));
        assertTrue(e.getMessage().contains("overrides.updater"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new SearchSpace(Map.of("data.batchSize", denseNetworks())));
    }

    @Test
    void aNetworkFileNeedsItsInputShapeAndMatchingClasses() throws Exception {
        Path file = dir.resolve("mine.json");
        SearchSpace networks = new SearchSpace(Map.of(SearchSpace.MODEL, denseNetworks())); // sets the leaf indices
        Files.writeString(file, networks.networkJson(new double[networks.numParameters()]));
        IllegalArgumentException noInput = assertThrows(IllegalArgumentException.class,
                () -> base().withModel(file.toString(), Map.of()).modelConfig());
        assertTrue(noInput.getMessage().contains("overrides.input"), noInput.getMessage());
        IllegalArgumentException lr = assertThrows(IllegalArgumentException.class,
                () -> base().withModel(file.toString(), Map.of("input", "1,28,28"))
                        .with(Map.of("overrides.updater.learningRate", "0.1")));
        assertTrue(lr.getMessage().contains("cannot be set on a network file"), lr.getMessage());
        IllegalArgumentException classes = assertThrows(IllegalArgumentException.class, () -> Trainer.start(base()
                .withModel(file.toString(), Map.of("input", "1,28,28")).with(Map.of("data.classes", "0,1,2")),
                dir.resolve("classes"), QUIET));
        assertTrue(classes.getMessage().contains("10 outputs"), classes.getMessage());
        IllegalArgumentException shape = assertThrows(IllegalArgumentException.class, () -> Trainer.start(base()
                .withModel(file.toString(), Map.of("input", "1,32,32")).with(Map.of("overrides.input", "1,32,32")),
                dir.resolve("shape"), QUIET));
        assertTrue(shape.getMessage().contains("does not take"), shape.getMessage());
        Files.writeString(dir.resolve("junk.json"), "{\"layers\": []}");
        IllegalArgumentException junk = assertThrows(IllegalArgumentException.class,
                () -> base().withModel(dir.resolve("junk.json").toString(), Map.of("input", "1,28,28")).modelConfig());
        assertTrue(junk.getMessage().contains("no DL4J network configuration"), junk.getMessage());
    }
}
