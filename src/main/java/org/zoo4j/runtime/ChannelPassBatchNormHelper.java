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
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.AddOp;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.MulOp;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.SubOp;
import org.nd4j.linalg.api.shape.Shape;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * DL4J's oneDNN batch-norm helper with the training step done in a few whole-array passes of libnd4j's ops. Installed
 * by {@link LayerHelpers} where the dnnl natives do not load or {@code -Dzoo4j.batchNorm=nd4j}, and the fallback of
 * {@link OneDnnBatchNormHelper} for arrays that one does not take.
 *
 * <p>libnd4j's {@code batchnorm_bp} asks oneDNN for the backward pass with fixed statistics and then adds the terms of
 * the batch mean and variance with about ten more element-wise operations, and its per-channel reductions over
 * (N, H, W) are slow: in a ResNet-20 step it took 28% of the op time, 12 to 15 ms a call on a 128x16x32x32 batch where
 * PyTorch's takes about 1. Here, on NCHW float arrays:
 * <ul>
 *   <li>a per-channel sum is a matrix-vector product of the array seen as rows of H*W values with a vector of ones
 *       (BLAS), then a sum over the batch of the N*C row sums: about a quarter of libnd4j's reduction time;</li>
 *   <li>a per-channel scale or shift is libnd4j's broadcasting multiply or add with a [1, C, 1, 1] array, one pass;</li>
 *   <li>statistics are centred: the variance is the mean of (x - mean)^2, and the backward pass sums dL/dy * (x - mean),
 *       so a mean that dwarfs the spread costs no digits.</li>
 * </ul>
 * Forward: mean; x - mean; variance; (x - mean) * gamma / std + beta. Backward, with xc = x - mean and M = N*H*W:
 * dL/dbeta = sum(dy), dL/dgamma = sum(dy * xc) / std, and
 * dL/dx = gamma / std * dy - gamma / std^3 * sum(dy * xc) / M * xc - gamma / std * sum(dy) / M.
 * Inference, other layouts and other data types are the parent's.
 */
final class ChannelPassBatchNormHelper extends MKLDNNBatchNormHelper {
    /** Batch statistics of the last training forward pass, outside workspaces: DL4J's layer reads them later. */
    private INDArray batchMean;
    private INDArray batchVariance;
    /** Vectors of ones for the row and batch sums, by length, outside workspaces. */
    private INDArray onesPerRow;
    private INDArray onesPerBatch;
    private long channelPassSteps;

    ChannelPassBatchNormHelper(DataType dataType) {
        super(dataType);
    }

    /** Training forward passes taken here rather than by the parent (their backward passes are taken here too). */
    long channelPassSteps() {
        return channelPassSteps;
    }

    /** Whether this helper's own passes apply: a c-ordered rank-4 NCHW float array. */
    static boolean applies(INDArray x, CNN2DFormat format) {
        return x.rank() == 4 && format == CNN2DFormat.NCHW && x.dataType() == DataType.FLOAT && x.ordering() == 'c'
                && Shape.hasDefaultStridesForShape(x) && x.length() > 0;
    }

    @Override
    public INDArray preOutput(INDArray x, boolean training, long[] shape, INDArray gamma, INDArray beta,
                              INDArray mean, INDArray var, double decay, double eps, CNN2DFormat format,
                              LayerWorkspaceMgr workspaceMgr) {
        if (!training) {
            return super.preOutput(x, false, shape, gamma, beta, mean, var, decay, eps, format, workspaceMgr);
        }
        if (!applies(x, format)) {
            batchMean = null; // the parent's statistics, and its backward pass, for this step
            return super.preOutput(x, true, shape, gamma, beta, mean, var, decay, eps, format, workspaceMgr);
        }
        channelPassSteps++;
        long n = x.size(0);
        long c = x.size(1);
        double count = (double) x.length() / c;
        INDArray centred = workspaceMgr.createUninitialized(ArrayType.FF_WORKING_MEM, x.dataType(), x.shape());
        INDArray out = workspaceMgr.createUninitialized(ArrayType.ACTIVATIONS, x.dataType(), x.shape());
        INDArray m = channelSums(x, n, c).divi(count);
        subtract(x, perChannel(m), centred);
        multiply(centred, centred, out); // squares, in the output's buffer until the output is written
        INDArray v = channelSums(out, n, c).divi(count);
        INDArray scale = Transforms.sqrt(v.add(eps), false).rdivi(1.0).muli(flat(gamma));
        multiply(centred, perChannel(scale), out);
        add(out, perChannel(flat(beta)), out);
        keepStatistics(m, v);
        return out;
    }

    @Override
    public INDArray getMeanCache(DataType dataType) {
        return batchMean == null ? super.getMeanCache(dataType) : batchMean.castTo(dataType);
    }

    @Override
    public INDArray getVarCache(DataType dataType) {
        return batchMean == null ? super.getVarCache(dataType) : batchVariance.castTo(dataType);
    }

    @Override
    public Pair<Gradient, INDArray> backpropGradient(INDArray input, INDArray epsilon, long[] shape, INDArray gamma,
                                                     INDArray beta, INDArray dGammaView, INDArray dBetaView,
                                                     double eps, CNN2DFormat format, LayerWorkspaceMgr workspaceMgr) {
        if (batchMean == null || !applies(input, format)) {
            return super.backpropGradient(input, epsilon, shape, gamma, beta, dGammaView, dBetaView, eps, format,
                    workspaceMgr);
        }
        INDArray dy = Shape.hasDefaultStridesForShape(epsilon) && epsilon.ordering() == 'c' ? epsilon
                : epsilon.dup('c');
        long n = input.size(0);
        long c = input.size(1);
        double count = (double) input.length() / c;
        INDArray centred = workspaceMgr.createUninitialized(ArrayType.BP_WORKING_MEM, input.dataType(), input.shape());
        INDArray dx = workspaceMgr.createUninitialized(ArrayType.ACTIVATION_GRAD, input.dataType(), input.shape());
        subtract(input, perChannel(batchMean), centred);
        INDArray sumDy = channelSums(dy, n, c);
        multiply(dy, centred, dx); // dy * xc, in dx's buffer until dx is written
        INDArray sumDyCentred = channelSums(dx, n, c);
        INDArray invStd = Transforms.sqrt(batchVariance.add(eps), false).rdivi(1.0);
        INDArray g = flat(gamma);
        INDArray dyScale = invStd.mul(g);
        INDArray centredScale = invStd.mul(invStd).muli(dyScale).muli(sumDyCentred).divi(-count);
        INDArray shift = dyScale.mul(sumDy).divi(-count);
        multiply(dy, perChannel(dyScale), dx);
        multiply(centred, perChannel(centredScale), centred);
        add(dx, centred, dx);
        add(dx, perChannel(shift), dx);
        flat(dGammaView).assign(sumDyCentred.muli(invStd));
        flat(dBetaView).assign(sumDy);
        Gradient gradient = new DefaultGradient();
        gradient.setGradientFor(BatchNormalizationParamInitializer.GAMMA, dGammaView);
        gradient.setGradientFor(BatchNormalizationParamInitializer.BETA, dBetaView);
        return new Pair<>(gradient, dx);
    }

    /** Per-channel sums of a c-ordered NCHW array: a BLAS product per image row, then a product over the batch. */
    private INDArray channelSums(INDArray x, long n, long c) {
        long rowLength = x.length() / (n * c);
        INDArray rows = x.reshape('c', n * c, rowLength);
        INDArray rowSums = Nd4j.gemm(rows, ones(rowLength, true), false, false);          // [N*C, 1]
        return Nd4j.gemm(ones(n, false), rowSums.reshape('c', n, c), true, false).reshape(c); // [C]
    }

    /** A column of ones of the given length (for rows when {@code perRow}, else for the batch), kept for reuse. */
    private INDArray ones(long length, boolean perRow) {
        INDArray kept = perRow ? onesPerRow : onesPerBatch;
        if (kept == null || kept.length() != length) {
            try (MemoryWorkspace ignored = Nd4j.getMemoryManager().scopeOutOfWorkspaces()) {
                kept = Nd4j.ones(DataType.FLOAT, length, 1);
            }
            if (perRow) {
                onesPerRow = kept;
            } else {
                onesPerBatch = kept;
            }
        }
        return kept;
    }

    private void keepStatistics(INDArray mean, INDArray variance) {
        try (MemoryWorkspace ignored = Nd4j.getMemoryManager().scopeOutOfWorkspaces()) {
            if (batchMean == null || batchMean.length() != mean.length()) {
                batchMean = Nd4j.createUninitialized(DataType.FLOAT, mean.length());
                batchVariance = Nd4j.createUninitialized(DataType.FLOAT, mean.length());
            }
        }
        batchMean.assign(mean);
        batchVariance.assign(variance);
    }

    private static INDArray flat(INDArray v) {
        return v.reshape(v.length());
    }

    private static INDArray perChannel(INDArray v) {
        return v.reshape('c', 1, v.length(), 1, 1);
    }

    // libnd4j's broadcasting ops: one pass for a [1, C, 1, 1] operand (its legacy broadcast ops take several).
    private static void multiply(INDArray a, INDArray b, INDArray out) {
        Nd4j.exec(new MulOp(a, b, out));
    }

    private static void add(INDArray a, INDArray b, INDArray out) {
        Nd4j.exec(new AddOp(a, b, out));
    }

    private static void subtract(INDArray a, INDArray b, INDArray out) {
        Nd4j.exec(new SubOp(a, b, out));
    }
}
