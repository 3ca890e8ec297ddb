package org.zoo4j.runtime;

import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.layers.mkldnn.MKLDNNBatchNormHelper;
import org.deeplearning4j.nn.layers.normalization.BatchNormalizationHelper;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.memory.conf.WorkspaceConfiguration;
import org.nd4j.linalg.api.memory.enums.AllocationPolicy;
import org.nd4j.linalg.api.memory.enums.LearningPolicy;
import org.nd4j.linalg.api.memory.enums.MirroringPolicy;
import org.nd4j.linalg.api.memory.enums.SpillPolicy;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * JMH: one call of each kernel zoo4j replaces, against DL4J's, by default on ResNet-20's activation shapes (batch 128;
 * {@code -p shape=NxCxHxW,...} for others): a batch-norm training step (forward and backward), a batch-norm pass at
 * inference, a ReLU layer's forward and backward pass, and the backward pass of a 3x3 stride-1 convolution by oneDNN's
 * choice (libnd4j's {@code conv2d_bp}) and by the direct route. Where per-call precision matters; the step-level
 * figures are {@code ./zoo4j bench}'s. Run with {@code training/benchmarks/jmh.sh} (not part of the test run: JMH
 * forks its own JVMs).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Xmx4g"})
public class LayerKernelsBenchmark {
    /** N x C x H x W of the activations: ResNet-20's three stages at batch 128. */
    @Param({"128x16x32x32", "128x32x16x16", "128x64x8x8"})
    public String shape;

    /**
     * Whose implementation: DL4J's (with its oneDNN helpers mended), zoo4j's, or zoo4j's with its oneDNN batch-norm
     * helper ({@code onednn}: the ReLU and convolution calls are then zoo4j's, as for {@code zoo4j}; since a95e8c7 its
     * batch norm at inference is DL4J's helper, as for {@code zoo4j}; {@code onednn-nchw}: that helper on NCHW arrays
     * inside the call too, {@code zoo4j.batchNormLayout=nchw}).
     */
    @Param({"dl4j", "zoo4j", "onednn"})
    public String impl;

    /** One workspace for every array a call makes, reused call after call as in training. */
    private static final String WORKSPACE = "ZOO4J_JMH";
    private static final WorkspaceConfiguration WORKSPACE_CONFIG = WorkspaceConfiguration.builder()
            .policyAllocation(AllocationPolicy.OVERALLOCATE).overallocationLimit(0.2)
            .policyLearning(LearningPolicy.FIRST_LOOP).policyMirroring(MirroringPolicy.FULL)
            .policySpill(SpillPolicy.REALLOCATE).build();
    private final LayerWorkspaceMgr workspaces = LayerWorkspaceMgr.builder()
            .defaultWorkspace(WORKSPACE, WORKSPACE_CONFIG).build();
    private INDArray x;
    private INDArray dy;
    private INDArray weights;
    private INDArray gamma;
    private INDArray beta;
    private INDArray dGamma;
    private INDArray dBeta;
    private INDArray runningMean;
    private INDArray runningVar;
    private BatchNormalizationHelper batchNorm;
    private Layer relu;

    @Setup(Level.Trial)
    public void setUp() {
        Backend.init();
        long[] s = Arrays.stream(shape.split("x")).mapToLong(Long::parseLong).toArray();
        Nd4j.getRandom().setSeed(7);
        x = Nd4j.randn(DataType.FLOAT, s);
        dy = Nd4j.randn(DataType.FLOAT, s);
        weights = Nd4j.randn(DataType.FLOAT, s[1], s[1], 3, 3).muli(0.1);
        gamma = Nd4j.rand(DataType.FLOAT, 1, s[1]).addi(0.5);
        beta = Nd4j.rand(DataType.FLOAT, 1, s[1]);
        dGamma = gamma.ulike();
        dBeta = beta.ulike();
        runningMean = Nd4j.zeros(DataType.FLOAT, 1, s[1]);
        runningVar = Nd4j.ones(DataType.FLOAT, 1, s[1]);
        batchNorm = impl.equals("zoo4j") ? new ChannelPassBatchNormHelper(DataType.FLOAT)
                : impl.equals("onednn") ? new OneDnnBatchNormHelper(DataType.FLOAT)
                : impl.equals("onednn-nchw") ? new OneDnnBatchNormHelper(DataType.FLOAT, false)
                : new MKLDNNBatchNormHelper(DataType.FLOAT);
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().dataType(DataType.FLOAT)
                .list().layer(new ActivationLayer.Builder().activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nOut(1).activation(Activation.IDENTITY)
                        .build())
                .setInputType(InputType.convolutional(s[2], s[3], s[1])).build());
        net.init();
        if (!impl.equals("dl4j")) {
            LayerHelpers.install(net);
        }
        relu = net.getLayer(0);
    }

    private static MemoryWorkspace open() {
        return Nd4j.getWorkspaceManager().getAndActivateWorkspace(WORKSPACE_CONFIG, WORKSPACE);
    }

    @Benchmark
    public double batchNormTrainingStep() {
        long[] shape4 = x.shape();
        try (MemoryWorkspace ignored = open()) {
            batchNorm.preOutput(x, true, shape4, gamma, beta, runningMean, runningVar, 0.9, 1e-5, CNN2DFormat.NCHW,
                    workspaces);
            return batchNorm.backpropGradient(x, dy, shape4, gamma, beta, dGamma, dBeta, 1e-5, CNN2DFormat.NCHW,
                    workspaces).getSecond().getDouble(0);
        }
    }

    /** Batch norm at inference: the running statistics, no gradient. */
    @Benchmark
    public double batchNormInference() {
        try (MemoryWorkspace ignored = open()) {
            return batchNorm.preOutput(x, false, x.shape(), gamma, beta, runningMean, runningVar, 0.9, 1e-5,
                    CNN2DFormat.NCHW, workspaces).getDouble(0);
        }
    }

    @Benchmark
    public double reluTrainingStep() {
        try (MemoryWorkspace ignored = open()) {
            relu.setInput(x, workspaces);
            relu.activate(true, workspaces);
            return relu.backpropGradient(dy, workspaces).getSecond().getDouble(0);
        }
    }

    /** dL/dx and dL/dW of a 3x3 stride-1 "same" convolution with as many output channels as input ones. */
    @Benchmark
    public double convolutionBackward() {
        try (MemoryWorkspace ignored = open()) {
            return convolutionBackwardInWorkspace();
        }
    }

    private double convolutionBackwardInWorkspace() {
        long[] args = {3, 3, 1, 1, 1, 1, 1, 1, 0, 0, 1};
        INDArray dx = x.ulike();
        INDArray dw = weights.ulike();
        if (!impl.equals("dl4j")) {
            DirectConvolutionHelper.run("deconv2d", args, new INDArray[] {dy, weights}, new INDArray[] {dx});
            DirectConvolutionHelper.run("deconv2d_bp", args, new INDArray[] {dy, weights, x},
                    new INDArray[] {dy.ulike(), dw});
        } else {
            DirectConvolutionHelper.run("conv2d_bp", args, new INDArray[] {x, weights, dy}, new INDArray[] {dx, dw});
        }
        return dw.getDouble(0);
    }
}
