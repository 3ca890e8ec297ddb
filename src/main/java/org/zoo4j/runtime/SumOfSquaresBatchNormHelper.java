package org.zoo4j.runtime;

import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.gradient.DefaultGradient;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.layers.mkldnn.MKLDNNBatchNormHelper;
import org.deeplearning4j.nn.params.BatchNormalizationParamInitializer;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.api.ops.impl.reduce.floating.SquaredNorm;
import org.nd4j.linalg.api.ops.impl.summarystats.Variance;
import org.nd4j.linalg.factory.Nd4j;

/**
 * DL4J's oneDNN batch-norm helper with the batch statistics of the training forward pass computed in two plain
 * reductions (sum and sum of squares per channel) instead of a mean and a separate variance op. libnd4j's variance
 * kernel was the largest single native function in a ResNet-20 training step (8% of its samples under perf); the two
 * reductions take about half its time. Installed by {@link LayerHelpers}.
 *
 * <p>{@code var = E[x^2] - mean^2} loses digits where the mean is large against the spread; where a channel's
 * variance comes out below 1/100 of its mean square (the mean over ten standard deviations), the step falls
 * back to the exact variance op. Normalising, inference and the backward pass are libnd4j's batch-norm ops, as in the
 * parent, fed with these statistics.
 */
final class SumOfSquaresBatchNormHelper extends MKLDNNBatchNormHelper {
    /** Below this ratio of variance to mean square the sum-of-squares variance is not trusted. */
    static final double CANCELLATION_LIMIT = 1e-2;

    private INDArray batchMean;
    private INDArray batchVariance;
    private long exactFallbacks;

    SumOfSquaresBatchNormHelper(DataType dataType) {
        super(dataType);
    }

    long exactFallbacks() {
        return exactFallbacks;
    }

    @Override
    public INDArray preOutput(INDArray x, boolean training, long[] shape, INDArray gamma, INDArray beta,
                              INDArray mean, INDArray var, double decay, double eps, CNN2DFormat format,
                              LayerWorkspaceMgr workspaceMgr) {
        if (!training) {
            return super.preOutput(x, false, shape, gamma, beta, mean, var, decay, eps, format, workspaceMgr);
        }
        batchStatistics(x, format);
        // Normalising with given statistics is what the parent does at inference; here they are the batch's.
        return super.preOutput(x, false, shape, gamma, beta, batchMean, batchVariance, decay, eps, format,
                workspaceMgr);
    }

    @Override
    public INDArray getMeanCache(DataType dataType) {
        return batchMean == null ? null : batchMean.castTo(dataType);
    }

    @Override
    public INDArray getVarCache(DataType dataType) {
        return batchVariance == null ? null : batchVariance.castTo(dataType);
    }

    @Override
    public Pair<Gradient, INDArray> backpropGradient(INDArray input, INDArray epsilon, long[] shape, INDArray gamma,
                                                     INDArray beta, INDArray dGammaView, INDArray dBetaView,
                                                     double eps, CNN2DFormat format, LayerWorkspaceMgr workspaceMgr) {
        if (batchMean == null) {
            throw new IllegalStateException("batch-norm backprop before a training forward pass");
        }
        INDArray x = org.nd4j.linalg.api.shape.Shape.hasDefaultStridesForShape(input) ? input : input.dup('c');
        int channelAxis = channelAxis(x, format);
        INDArray dx = workspaceMgr.createUninitialized(ArrayType.ACTIVATION_GRAD, x.dataType(), x.shape());
        INDArray dMean = workspaceMgr.createUninitialized(ArrayType.BP_WORKING_MEM, x.dataType(), batchMean.shape());
        INDArray dVariance = workspaceMgr.createUninitialized(ArrayType.BP_WORKING_MEM, x.dataType(),
                batchVariance.shape());
        DynamicCustomOp op = DynamicCustomOp.builder("batchnorm_bp")
                .addInputs(x, batchMean, batchVariance, gamma.reshape(gamma.length()), beta.reshape(beta.length()),
                        epsilon)
                .addIntegerArguments(1, 1, channelAxis)
                .addFloatingPointArguments(eps)
                .addOutputs(dx, dMean, dVariance, dGammaView.reshape(dGammaView.length()),
                        dBetaView.reshape(dBetaView.length()))
                .build();
        Nd4j.exec(op);
        Gradient gradient = new DefaultGradient();
        gradient.setGradientFor(BatchNormalizationParamInitializer.GAMMA, dGammaView);
        gradient.setGradientFor(BatchNormalizationParamInitializer.BETA, dBetaView);
        return new Pair<>(gradient, dx);
    }

    /** Per-channel mean and (biased) variance of {@code x}, kept outside workspaces as DL4J's layer reads them later. */
    private void batchStatistics(INDArray x, CNN2DFormat format) {
        int channelAxis = channelAxis(x, format);
        int[] dims = new int[x.rank() - 1];
        for (int d = 0, i = 0; d < x.rank(); d++) {
            if (d != channelAxis) {
                dims[i++] = d;
            }
        }
        double count = (double) x.length() / x.size(channelAxis);
        try (MemoryWorkspace ignored = Nd4j.getMemoryManager().scopeOutOfWorkspaces()) {
            INDArray mean = x.sum(dims).divi(count);
            INDArray meanSquare = Nd4j.getExecutioner().exec(new SquaredNorm(x, dims)).divi(count);
            INDArray variance = meanSquare.sub(mean.mul(mean));
            if (variance.lt(meanSquare.mul(CANCELLATION_LIMIT)).any()) {
                exactFallbacks++;
                variance = Nd4j.getExecutioner().exec(new Variance(x, false, dims));
            }
            batchMean = mean;
            batchVariance = variance;
        }
    }

    private static int channelAxis(INDArray x, CNN2DFormat format) {
        return x.rank() == 4 && format == CNN2DFormat.NHWC ? 3 : 1;
    }
}
