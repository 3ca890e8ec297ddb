package org.zoo4j.modelfile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.file.Path;
import java.util.Map;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.zoo4j.runtime.LayerHelpers;

/**
 * zoo4j reads a model file's parameters and optimiser state itself, streamed from the zip (DL4J's reader copies every
 * entry onto the Java heap first): what it reads must be exactly what DL4J's own reader reads, in either precision.
 */
class ModelFileRestoreTest {
    @TempDir
    Path dir;

    static ComputationGraph trained(DataType type) {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().seed(5).dataType(type)
                .updater(new Adam(1e-2)).graphBuilder().addInputs("in")
                .setInputTypes(InputType.convolutional(6, 6, 2))
                .addLayer("conv", new ConvolutionLayer.Builder(3, 3).nOut(4).activation(Activation.IDENTITY).build(),
                        "in")
                .addLayer("bn", new BatchNormalization.Builder().build(), "conv")
                .addLayer("pool", new GlobalPoolingLayer.Builder(PoolingType.AVG).build(), "bn")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(3)
                        .activation(Activation.SOFTMAX).build(), "pool")
                .setOutputs("out").build();
        ComputationGraph net = new ComputationGraph(conf);
        net.init();
        Nd4j.getRandom().setSeed(9);
        INDArray labels = Nd4j.zeros(type, 8, 3);
        for (int i = 0; i < 8; i++) {
            labels.putScalar(i, i % 3, 1.0);
        }
        DataSet data = new DataSet(Nd4j.rand(type, 8, 2, 6, 6), labels);
        for (int i = 0; i < 3; i++) {
            net.fit(data); // the optimiser state and the batch norm's running statistics are not their initial values
        }
        return net;
    }

    @Test
    void parametersAndOptimiserStateAreWhatDl4jReads() throws Exception {
        for (DataType type : new DataType[] {DataType.FLOAT, DataType.DOUBLE}) {
            ComputationGraph net = trained(type);
            Path file = dir.resolve("model-" + type + ".zip");
            ModelFile.save(file, net, true, Map.of());
            ComputationGraph dl4j = ModelSerializer.restoreComputationGraph(file.toFile(), true);
            LayerHelpers.install(dl4j); // the same kernels as zoo4j's reader gives its network, for the step below
            ComputationGraph withState = (ComputationGraph) ModelFile.restore(file, true);
            ComputationGraph withoutState = (ComputationGraph) ModelFile.restore(file, false);
            assertEquals(type, withState.params().dataType());
            assertEquals(dl4j.params(), withState.params(), type + ": parameters");
            assertEquals(net.params(), withState.params());
            assertNotNull(withState.getUpdater(false));
            assertEquals(dl4j.getUpdater().getStateViewArray(), withState.getUpdater().getStateViewArray(),
                    type + ": optimiser state");
            assertEquals(net.getUpdater().getStateViewArray(), withState.getUpdater().getStateViewArray());
            assertNull(withoutState.getUpdater(false), "no optimiser state where none is asked for");
            assertEquals(dl4j.params(), withoutState.params());
            assertEquals(dl4j.getConfiguration().toJson(), withoutState.getConfiguration().toJson());
            INDArray x = Nd4j.rand(type, 4, 2, 6, 6);
            assertEquals(dl4j.outputSingle(false, x.dup()), withoutState.outputSingle(false, x.dup()));
            // and it trains on from the state it read as DL4J's copy does
            DataSet more = new DataSet(x, Nd4j.eye(3).getRows(0, 1, 2, 0).castTo(type));
            dl4j.fit(more);
            withState.fit(more);
            assertEquals(dl4j.params(), withState.params(), type + ": one more step");
        }
    }
}
