package org.zoo4j.runtime;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.bytedeco.dnnl.IntMemoryMap;
import org.bytedeco.dnnl.batch_normalization_backward;
import org.bytedeco.dnnl.batch_normalization_forward;
import org.bytedeco.dnnl.convolution_backward_data;
import org.bytedeco.dnnl.convolution_backward_weights;
import org.bytedeco.dnnl.convolution_forward;
import org.bytedeco.dnnl.global.dnnl;
import org.bytedeco.dnnl.memory;
import org.bytedeco.dnnl.primitive;
import org.bytedeco.dnnl.reorder;
import org.bytedeco.dnnl.stream;
import org.bytedeco.javacpp.FloatPointer;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
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

/**
 * A prototype measurement, not a feature: what keeping activations in oneDNN's blocked layout across a conv 3x3 ->
 * batch norm -> ReLU unit would save in a training step. (A) is the unit as zoo4j trains it now, NCHW between layers:
 * {@link OneDnnConvolutionHelper} (reorders NCHW to and from the blocked layout around each call), zoo4j's
 * {@link ChannelPassBatchNormHelper} and its ReLU layer. (B) is the same unit in oneDNN alone, blocked throughout:
 * the same convolution primitives with no activation reorders, and oneDNN's batch norm with the ReLU fused
 * ({@code fuse_norm_relu}); the weight gradient is reordered to DL4J's layout as it would have to be. One forward and
 * one backward of each in turn, median of many; ResNet-20's three stage shapes at batch 128. Run like
 * {@link ConvolutionHelpersBenchmark}: {@code org.zoo4j.runtime.BlockedLayoutProbe [seconds per shape]}.
 */
public final class BlockedLayoutProbe {
    private static final String WORKSPACE = "ZOO4J_BLOCKED_PROBE";
    private static final WorkspaceConfiguration WORKSPACE_CONFIG = WorkspaceConfiguration.builder()
            .policyAllocation(AllocationPolicy.OVERALLOCATE).overallocationLimit(0.2)
            .policyLearning(LearningPolicy.FIRST_LOOP).policyMirroring(MirroringPolicy.FULL)
            .policySpill(SpillPolicy.REALLOCATE).build();

    private BlockedLayoutProbe() {
    }

    public static void main(String[] args) {
        Backend.init();
        double seconds = args.length > 0 ? Double.parseDouble(args[0]) : 10;
        System.out.println("conv 3x3 -> batch norm -> ReLU, forward + backward, median ms; threads "
                + Nd4j.getEnvironment().maxMasterThreads());
        double[] total = new double[2];
        int[] units = {7, 6, 6}; // ResNet-20's units per stage, roughly (stem and 19 3x3 convolutions with BN)
        long[][] shapes = {{128, 16, 32, 32}, {128, 32, 16, 16}, {128, 64, 8, 8}};
        for (int i = 0; i < shapes.length; i++) {
            double[] ms = time(shapes[i], seconds);
            total[0] += units[i] * ms[0];
            total[1] += units[i] * ms[1];
            System.out.println(String.format(Locale.ROOT, "%dx%dx%dx%d: NCHW between layers (zoo4j now) %.2f ms, "
                            + "blocked throughout %.2f ms: %.2fx; the three parts in NCHW: conv %.2f, BN %.2f, ReLU "
                            + "%.2f; blocked: conv %.2f, BN+ReLU %.2f; oneDNN's BN alone on NCHW %.2f (%d rounds)",
                    shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3], ms[0], ms[1], ms[1] / ms[0], ms[2], ms[3],
                    ms[4], ms[5], ms[6], ms[8], (long) ms[7]));
        }
        System.out.println(String.format(Locale.ROOT, "ResNet-20's %d units per step: NCHW %.0f ms, blocked %.0f ms "
                + "(saving %.0f ms a step)", units[0] + units[1] + units[2], total[0], total[1], total[0] - total[1]));
    }

    /**
     * [A, B, A conv, A BN, A ReLU, B conv, B BN+ReLU, rounds, oneDNN BN on NCHW]: median ms per forward + backward.
     */
    static double[] time(long[] shape, double seconds) {
        long n = shape[0];
        long c = shape[1];
        Nd4j.getRandom().setSeed(1);
        INDArray x = Nd4j.randn(DataType.FLOAT, shape);
        INDArray w = Nd4j.randn(DataType.FLOAT, c, c, 3, 3).muli(0.1);
        INDArray dz = Nd4j.randn(DataType.FLOAT, shape);
        INDArray gamma = Nd4j.rand(DataType.FLOAT, 1, c).addi(0.5);
        INDArray beta = Nd4j.rand(DataType.FLOAT, 1, c);
        INDArray dGamma = gamma.ulike();
        INDArray dBeta = beta.ulike();
        INDArray mean = Nd4j.zeros(DataType.FLOAT, 1, c);
        INDArray var = Nd4j.ones(DataType.FLOAT, 1, c);
        INDArray dw = w.ulike();
        INDArray dummyBias = Nd4j.zeros(DataType.FLOAT, 1, c);
        OneDnnConvolutionHelper conv = new OneDnnConvolutionHelper(DataType.FLOAT, false, true);
        ChannelPassBatchNormHelper bn = new ChannelPassBatchNormHelper(DataType.FLOAT);
        Layer relu = reluLayer(shape);
        LayerWorkspaceMgr mgr = LayerWorkspaceMgr.builder().defaultWorkspace(WORKSPACE, WORKSPACE_CONFIG).build();
        int[] k = {3, 3};
        int[] one = {1, 1};

        Blocked blocked = new Blocked(shape);
        PlainBatchNorm plainBn = new PlainBatchNorm(shape);
        List<double[]> samples = new ArrayList<>();
        long end = 0;
        for (int round = -3; round < 100000 && (round < 8 || System.nanoTime() < end); round++) {
            if (round == 0) {
                end = System.nanoTime() + (long) (seconds * 1e9);
            }
            double[] t = new double[8];
            for (int j = 0; j < 3; j++) {
                int which = (j + Math.floorMod(round, 3)) % 3;
                if (which == 2) {
                    t[7] = plainBn.step();
                } else if (which == 0) {
                    try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager()
                            .getAndActivateWorkspace(WORKSPACE_CONFIG, WORKSPACE)) {
                        long t0 = System.nanoTime();
                        INDArray y = conv.preOutput(x, w, dummyBias, k, one, one, null, null,
                                ConvolutionMode.Truncate, one, CNN2DFormat.NCHW, mgr);
                        long t1 = System.nanoTime();
                        INDArray z = bn.preOutput(y, true, shape, gamma, beta, mean, var, 0.9, 1e-5,
                                CNN2DFormat.NCHW, mgr);
                        long t2 = System.nanoTime();
                        relu.setInput(z, mgr);
                        relu.activate(true, mgr);
                        INDArray dzIn = relu.backpropGradient(dz, mgr).getSecond();
                        long t3 = System.nanoTime();
                        INDArray dy = bn.backpropGradient(y, dzIn, shape, gamma, beta, dGamma, dBeta, 1e-5,
                                CNN2DFormat.NCHW, mgr).getSecond();
                        long t4 = System.nanoTime();
                        conv.preOutput(x, w, dummyBias, k, one, one, null, null, ConvolutionMode.Truncate, one,
                                CNN2DFormat.NCHW, mgr); // DL4J's backprop asks again: the forward output comes back
                        conv.backpropGradient(x, w, null, dy, k, one, one, dummyBias, dw, new ActivationIdentity(),
                                null, null, null, ConvolutionMode.Truncate, one, CNN2DFormat.NCHW, mgr);
                        long t5 = System.nanoTime();
                        t[0] = (t5 - t0) / 1e6;
                        t[2] = ((t1 - t0) + (t5 - t4)) / 1e6;
                        t[3] = ((t2 - t1) + (t4 - t3)) / 1e6;
                        t[4] = (t3 - t2) / 1e6;
                    }
                } else {
                    double[] b = blocked.step();
                    t[1] = b[0] + b[1];
                    t[5] = b[0];
                    t[6] = b[1];
                }
            }
            if (round >= 0) {
                samples.add(t);
            }
        }
        double[] result = new double[9];
        for (int i = 0; i < 8; i++) {
            final int col = i;
            double[] v = samples.stream().mapToDouble(s -> s[col]).sorted().toArray();
            result[i == 7 ? 8 : i] = v[v.length / 2];
        }
        result[7] = samples.size();
        return result;
    }

    private static Layer reluLayer(long[] shape) {
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().dataType(DataType.FLOAT)
                .list().layer(new ActivationLayer.Builder().activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nOut(1).activation(Activation.IDENTITY)
                        .build())
                .setInputType(InputType.convolutional(shape[2], shape[3], shape[1])).build());
        net.init();
        LayerHelpers.install(net);
        return net.getLayer(0);
    }

    /** oneDNN's batch norm (no ReLU fused) on plain NCHW arrays: what a drop-in batch-norm helper could call. */
    private static final class PlainBatchNorm {
        final stream s = OneDnn.stream();
        final primitive fwd;
        final primitive bwd;
        final IntMemoryMap fwdArgs = new IntMemoryMap();
        final IntMemoryMap bwdArgs = new IntMemoryMap();

        PlainBatchNorm(long[] shape) {
            var eng = OneDnn.engine();
            memory.desc act = new memory.desc(shape, memory.data_type.f32, memory.format_tag.nchw);
            int flags = dnnl.normalization_flags.use_scale_shift.value;
            var fwdPd = new batch_normalization_forward.primitive_desc(new batch_normalization_forward.desc(
                    dnnl.prop_kind.forward_training.value, act, 1e-5f, flags), eng);
            var bwdPd = new batch_normalization_backward.primitive_desc(new batch_normalization_backward.desc(
                    dnnl.prop_kind.backward.value, act, act, 1e-5f, flags), eng, fwdPd);
            fwd = new batch_normalization_forward(fwdPd);
            bwd = new batch_normalization_backward(bwdPd);
            memory x = Blocked.filled(act);
            memory y = new memory(act, eng);
            memory mean = new memory(fwdPd.mean_desc(), eng);
            memory var = new memory(fwdPd.variance_desc(), eng);
            memory scaleShift = Blocked.filled(fwdPd.weights_desc());
            memory dy = Blocked.filled(act);
            memory dx = new memory(act, eng);
            memory dScaleShift = new memory(bwdPd.diff_weights_desc(), eng);
            fwdArgs.put(dnnl.DNNL_ARG_SRC, x);
            fwdArgs.put(dnnl.DNNL_ARG_SCALE_SHIFT, scaleShift);
            fwdArgs.put(dnnl.DNNL_ARG_DST, y);
            fwdArgs.put(dnnl.DNNL_ARG_MEAN, mean);
            fwdArgs.put(dnnl.DNNL_ARG_VARIANCE, var);
            bwdArgs.put(dnnl.DNNL_ARG_SRC, x);
            bwdArgs.put(dnnl.DNNL_ARG_DIFF_DST, dy);
            bwdArgs.put(dnnl.DNNL_ARG_SCALE_SHIFT, scaleShift);
            bwdArgs.put(dnnl.DNNL_ARG_MEAN, mean);
            bwdArgs.put(dnnl.DNNL_ARG_VARIANCE, var);
            bwdArgs.put(dnnl.DNNL_ARG_DIFF_SRC, dx);
            bwdArgs.put(dnnl.DNNL_ARG_DIFF_SCALE_SHIFT, dScaleShift);
        }

        double step() {
            long t0 = System.nanoTime();
            fwd.execute(s, fwdArgs);
            bwd.execute(s, bwdArgs);
            s._wait();
            return (System.nanoTime() - t0) / 1e6;
        }
    }

    /** The unit in oneDNN alone: blocked activations, buffers made once. */
    private static final class Blocked {
        final stream s = OneDnn.stream();
        final primitive convFwd;
        final primitive convBwdData;
        final primitive convBwdWeights;
        final primitive bnFwd;
        final primitive bnBwd;
        final reorder dwToUser;
        final reorder wFromUser;
        final memory wUser;
        final memory w;
        final memory dw;
        final memory dwUser;
        final IntMemoryMap convFwdArgs = new IntMemoryMap();
        final IntMemoryMap convBwdDataArgs = new IntMemoryMap();
        final IntMemoryMap convBwdWeightsArgs = new IntMemoryMap();
        final IntMemoryMap bnFwdArgs = new IntMemoryMap();
        final IntMemoryMap bnBwdArgs = new IntMemoryMap();
        final List<String> notes = new ArrayList<>();

        Blocked(long[] shape) {
            var eng = OneDnn.engine();
            long c = shape[1];
            long[] wDims = {c, c, 3, 3};
            long[] st = {1, 1};
            long[] pad = {1, 1};
            memory.desc any = new memory.desc(shape, memory.data_type.f32, memory.format_tag.any);
            memory.desc wAny = new memory.desc(wDims, memory.data_type.f32, memory.format_tag.any);
            ConvolutionShape key = new ConvolutionShape(shape[0], c, shape[2], shape[3], c,
                    shape[2], shape[3], 3, 3, 1, 1, 1, 1, 1, 1, false);
            var variant = ConvolutionVariant.DEFAULT;
            var fwdPd = new convolution_forward.primitive_desc(new convolution_forward.desc(
                    dnnl.prop_kind.forward_training, variant.forward(key), any, wAny, any, st, pad, pad), eng);
            var dataPd = new convolution_backward_data.primitive_desc(new convolution_backward_data.desc(
                    variant.backwardData(key), any, wAny, any, st, pad, pad), eng, fwdPd);
            var weightsPd = new convolution_backward_weights.primitive_desc(new convolution_backward_weights.desc(
                    variant.backwardWeights(key), any, wAny, any, st, pad, pad), eng, fwdPd);
            memory.desc act = fwdPd.dst_desc();
            int flags = dnnl.normalization_flags.use_scale_shift.value | dnnl.normalization_flags.fuse_norm_relu.value;
            var bnFwdPd = new batch_normalization_forward.primitive_desc(new batch_normalization_forward.desc(
                    dnnl.prop_kind.forward_training.value, act, 1e-5f, flags), eng);
            var bnBwdPd = new batch_normalization_backward.primitive_desc(new batch_normalization_backward.desc(
                    dnnl.prop_kind.backward.value, act, act, 1e-5f, flags), eng, bnFwdPd);
            convFwd = new convolution_forward(fwdPd);
            convBwdData = new convolution_backward_data(dataPd);
            convBwdWeights = new convolution_backward_weights(weightsPd);
            bnFwd = new batch_normalization_forward(bnFwdPd);
            bnBwd = new batch_normalization_backward(bnBwdPd);
            memory x = filled(fwdPd.src_desc());
            w = filled(fwdPd.weights_desc());
            wUser = filled(new memory.desc(wDims, memory.data_type.f32, memory.format_tag.oihw));
            wFromUser = new reorder(wUser, w);
            memory y = new memory(act, eng);
            memory z = new memory(bnFwdPd.dst_desc(), eng);
            memory mean = new memory(bnFwdPd.mean_desc(), eng);
            memory var = new memory(bnFwdPd.variance_desc(), eng);
            memory scaleShift = filled(bnFwdPd.weights_desc());
            memory ws = new memory(bnFwdPd.workspace_desc(), eng);
            memory dz = filled(bnBwdPd.diff_dst_desc());
            memory dy = new memory(bnBwdPd.diff_src_desc(), eng);
            memory dScaleShift = new memory(bnBwdPd.diff_weights_desc(), eng);
            memory dx = new memory(dataPd.diff_src_desc(), eng);
            memory wData = dataPd.weights_desc().equals(fwdPd.weights_desc()) ? w : filled(dataPd.weights_desc());
            dw = new memory(weightsPd.diff_weights_desc(), eng);
            dwUser = new memory(new memory.desc(wDims, memory.data_type.f32, memory.format_tag.oihw), eng);
            dwToUser = new reorder(dw, dwUser);
            if (!dataPd.diff_dst_desc().equals(bnBwdPd.diff_src_desc())
                    || !weightsPd.diff_dst_desc().equals(bnBwdPd.diff_src_desc())
                    || !weightsPd.src_desc().equals(fwdPd.src_desc())) {
                notes.add("layouts differ between primitives: the blocked chain would need reorders");
            }
            convFwdArgs.put(dnnl.DNNL_ARG_SRC, x);
            convFwdArgs.put(dnnl.DNNL_ARG_WEIGHTS, w);
            convFwdArgs.put(dnnl.DNNL_ARG_DST, y);
            bnFwdArgs.put(dnnl.DNNL_ARG_SRC, y);
            bnFwdArgs.put(dnnl.DNNL_ARG_SCALE_SHIFT, scaleShift);
            bnFwdArgs.put(dnnl.DNNL_ARG_DST, z);
            bnFwdArgs.put(dnnl.DNNL_ARG_MEAN, mean);
            bnFwdArgs.put(dnnl.DNNL_ARG_VARIANCE, var);
            bnFwdArgs.put(dnnl.DNNL_ARG_WORKSPACE, ws);
            bnBwdArgs.put(dnnl.DNNL_ARG_SRC, y);
            bnBwdArgs.put(dnnl.DNNL_ARG_DIFF_DST, dz);
            bnBwdArgs.put(dnnl.DNNL_ARG_SCALE_SHIFT, scaleShift);
            bnBwdArgs.put(dnnl.DNNL_ARG_MEAN, mean);
            bnBwdArgs.put(dnnl.DNNL_ARG_VARIANCE, var);
            bnBwdArgs.put(dnnl.DNNL_ARG_WORKSPACE, ws);
            bnBwdArgs.put(dnnl.DNNL_ARG_DIFF_SRC, dy);
            bnBwdArgs.put(dnnl.DNNL_ARG_DIFF_SCALE_SHIFT, dScaleShift);
            convBwdDataArgs.put(dnnl.DNNL_ARG_DIFF_DST, dy);
            convBwdDataArgs.put(dnnl.DNNL_ARG_WEIGHTS, wData);
            convBwdDataArgs.put(dnnl.DNNL_ARG_DIFF_SRC, dx);
            convBwdWeightsArgs.put(dnnl.DNNL_ARG_SRC, x);
            convBwdWeightsArgs.put(dnnl.DNNL_ARG_DIFF_DST, dy);
            convBwdWeightsArgs.put(dnnl.DNNL_ARG_DIFF_WEIGHTS, dw);
            if (!notes.isEmpty()) {
                System.out.println("  " + String.join("; ", notes));
            }
        }

        private static memory filled(memory.desc desc) {
            memory m = new memory(desc, OneDnn.engine());
            long count = desc.get_size() / 4;
            FloatPointer p = new FloatPointer(m.get_data_handle()).capacity(count);
            Random r = new Random(count);
            for (long i = 0; i < count; i++) {
                p.put(i, (float) (r.nextGaussian() * 0.3 + 0.5));
            }
            return m;
        }

        /** [conv ms, BN+ReLU ms] of one forward and backward. */
        double[] step() {
            long t0 = System.nanoTime();
            wFromUser.execute(s, wUser, w); // once per step, as the helper does
            convFwd.execute(s, convFwdArgs);
            long t1 = System.nanoTime();
            bnFwd.execute(s, bnFwdArgs);
            bnBwd.execute(s, bnBwdArgs);
            long t2 = System.nanoTime();
            convBwdWeights.execute(s, convBwdWeightsArgs);
            dwToUser.execute(s, dw, dwUser);
            convBwdData.execute(s, convBwdDataArgs);
            long t3 = System.nanoTime();
            s._wait();
            return new double[] {((t1 - t0) + (t3 - t2)) / 1e6, (t2 - t1) / 1e6};
        }
    }
}
