package org.zoo4j.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.layers.convolution.ConvolutionLayer;
import org.deeplearning4j.nn.layers.convolution.subsampling.SubsamplingLayer;
import org.deeplearning4j.nn.layers.mkldnn.MKLDNNBatchNormHelper;
import org.deeplearning4j.nn.layers.mkldnn.MKLDNNConvHelper;
import org.deeplearning4j.nn.layers.mkldnn.MKLDNNSubsamplingHelper;
import org.deeplearning4j.nn.layers.normalization.BatchNormalization;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;
import org.zoo4j.Zoo;

/** The fast CPU setup is active without the user doing anything. */
class BackendTest {

    @Test
    void oneDnnHelpersAttachToZooModels() {
        ComputationGraph graph = Zoo.create("resnet20", Map.of("input", "1,32,32"));
        graph.outputSingle(Nd4j.rand(DataType.FLOAT, 2, 1, 32, 32));
        BackendInfo info = Backend.init();
        assertEquals("CPU", info.backend());
        assertTrue(info.oneDnn(), "libnd4j runs with oneDNN");
        assertTrue(info.helpersEnabled(), "DL4J helpers are switched on");
        assertInstanceOf(MKLDNNConvHelper.class, ((ConvolutionLayer) graph.getLayer("conv1")).getHelper());
        assertInstanceOf(MKLDNNBatchNormHelper.class, ((BatchNormalization) graph.getLayer("bn1")).getHelper());
        assertInstanceOf(MKLDNNSubsamplingHelper.class,
                ((SubsamplingLayer) graph.getLayer("layer2.0.shortcut.subsample")).getHelper());
    }

    @Test
    void openBlasRunsOnOneThreadUnlessAskedOtherwise() {
        Backend.init();
        assertEquals(1, Nd4j.factory().blas().getMaxThreads(), "set by init()");
        assertEquals("1", Backend.blasThreadSettings());
        try {
            assertEquals("2", Backend.configureBlasThreads("2"));
            assertEquals(2, Nd4j.factory().blas().getMaxThreads());
            for (String bad : new String[] {"0", "-1", "two", ""}) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> Backend.configureBlasThreads(bad));
                assertTrue(e.getMessage().contains(Backend.BLAS_THREADS) && e.getMessage().contains("default"),
                        e.getMessage());
            }
            assertEquals(2, Nd4j.factory().blas().getMaxThreads(), "a refused setting changes nothing");
        } finally {
            Backend.configureBlasThreads(null);
        }
        assertEquals(1, Nd4j.factory().blas().getMaxThreads());
    }

    @Test
    void picksTheOneDnnBuildTheCpuCanRun() {
        Backend.init();
        String build = System.getProperty(Backend.PLATFORM_EXTENSION);
        boolean avx2 = Backend.CpuFeatures.detect().has("avx2") && Backend.CpuFeatures.detect().has("fma");
        assertEquals(avx2 ? "-onednn-avx2" : "-onednn", build);
        assertTrue(Backend.init().summary().contains("oneDNN on"), Backend.init().summary());
    }
}
