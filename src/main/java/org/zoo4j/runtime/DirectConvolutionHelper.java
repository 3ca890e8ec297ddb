package org.zoo4j.runtime;

import java.lang.ref.WeakReference;
import java.util.Locale;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer.AlgoMode;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer.BwdDataAlgo;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer.BwdFilterAlgo;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer.FwdAlgo;
import org.deeplearning4j.nn.gradient.DefaultGradient;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.layers.mkldnn.MKLDNNConvHelper;
import org.deeplearning4j.nn.params.ConvolutionParamInitializer;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.api.ops.OpContext;
import org.nd4j.linalg.factory.Nd4j;

/**
 * DL4J's oneDNN convolution helper with two costs of its training step removed. Installed by {@link LayerHelpers}.
 *
 * <ul>
 *   <li><b>Backward pass of the convolutions where oneDNN's Winograd is slow.</b> libnd4j asks oneDNN for the
 *       backward pass with the "auto" algorithm, and oneDNN then picks Winograd for 3x3 stride-1 layers with channel
 *       counts in multiples of 16 on AVX-512 CPUs. Winograd's transforms outweigh its saved multiplications where
 *       there are few input channels or few pixels: with 16 input channels or a feature map of at most 7x7 it took
 *       1.2x to 3x as long as the direct algorithm on a 2-core AVX-512 CPU (ResNet-20's 16-channel layers: 27 ms
 *       against 19 per call, batch 128), and elsewhere it was 1.2x to 2.6x faster (VGG's 64 to 256 channels at
 *       8x8 to 32x32). For those layers only, the input gradient is a transposed convolution of the output gradient
 *       ({@code deconv2d}) and the weight gradient that of a transposed convolution with the roles of input and
 *       output gradient swapped ({@code deconv2d_bp}); libnd4j runs both with oneDNN's direct algorithm. Same
 *       numbers as the helper's, to float rounding (tested).</li>
 *   <li><b>The forward pass run twice.</b> DL4J's convolution layer recomputes its pre-activation output in
 *       backprop to differentiate the activation. Where the activation is the identity or ReLU, the output the
 *       forward pass left is as good (ReLU's derivative reads the same from {@code relu(z)} as from {@code z}), so
 *       it is handed back instead of being computed again: the same input and weights arrays, and the output still
 *       live in the workspace of the step that made it.</li>
 * </ul>
 * Every forward pass, and every other backward pass, is the parent's.
 */
final class DirectConvolutionHelper extends MKLDNNConvHelper {
    /** Whether oneDNN may pick its AVX-512 Winograd kernels here: the CPU has them and no ISA cap is set. */
    static final boolean WINOGRAD_CPU = winogradCpu();
    /** Int arguments of libnd4j's (de)conv2d ops: weights as DL4J keeps them, [out, in, kH, kW]. */
    private static final int WEIGHTS_OIHW = 1;

    private final boolean reuseForwardOutput;
    private WeakReference<INDArray> lastInput = new WeakReference<>(null);
    private WeakReference<INDArray> lastWeights = new WeakReference<>(null);
    private WeakReference<INDArray> lastOutput = new WeakReference<>(null);
    /** Forward outputs handed back to backprop instead of computed again, and backward passes taken directly. */
    private long forwardReuses;
    private long directBackwardPasses;

    /**
     * @param dataType           the layer's data type
     * @param reuseForwardOutput whether the layer's activation lets its forward output stand in for the
     *                           pre-activation in backprop (identity or ReLU)
     */
    DirectConvolutionHelper(DataType dataType, boolean reuseForwardOutput) {
        super(dataType);
        this.reuseForwardOutput = reuseForwardOutput;
    }

    long forwardReuses() {
        return forwardReuses;
    }

    long directBackwardPasses() {
        return directBackwardPasses;
    }

    @Override
    public INDArray preOutput(INDArray input, INDArray weights, INDArray bias, int[] kernel, int[] strides, int[] pad,
                              AlgoMode mode, FwdAlgo fwdAlgo, ConvolutionMode convolutionMode, int[] dilation,
                              CNN2DFormat format, LayerWorkspaceMgr workspaceMgr) {
        if (reuseForwardOutput) {
            INDArray previous = lastOutput.get();
            // Only an output still live in the workspace it was made in: that is the same training step. A detached
            // array could be from an earlier call whose input the caller has since overwritten in place.
            if (previous != null && lastInput.get() == input && lastWeights.get() == weights
                    && liveInItsWorkspace(previous)) {
                forwardReuses++;
                return previous;
            }
        }
        INDArray out = super.preOutput(input, weights, bias, kernel, strides, pad, mode, fwdAlgo, convolutionMode,
                dilation, format, workspaceMgr);
        if (reuseForwardOutput) {
            lastInput = new WeakReference<>(input);
            lastWeights = new WeakReference<>(weights);
            lastOutput = new WeakReference<>(out);
        }
        return out;
    }

    @Override
    public Pair<Gradient, INDArray> backpropGradient(INDArray input, INDArray weights, INDArray bias, INDArray delta,
                                                     int[] kernel, int[] strides, int[] pad, INDArray biasGradView,
                                                     INDArray weightGradView, IActivation afn, AlgoMode mode,
                                                     BwdFilterAlgo bwdFilterAlgo, BwdDataAlgo bwdDataAlgo,
                                                     ConvolutionMode convolutionMode, int[] dilation, CNN2DFormat format,
                                                     LayerWorkspaceMgr workspaceMgr) {
        forgetForwardOutput();
        int[] padding = directPadding(kernel, strides, pad, convolutionMode, dilation, format, input, weights, delta);
        if (padding == null) {
            return super.backpropGradient(input, weights, bias, delta, kernel, strides, pad, biasGradView,
                    weightGradView, afn, mode, bwdFilterAlgo, bwdDataAlgo, convolutionMode, dilation, format,
                    workspaceMgr);
        }
        directBackwardPasses++;
        long[] args = {kernel[0], kernel[1], 1, 1, padding[0], padding[1], 1, 1, 0, 0, WEIGHTS_OIHW};
        INDArray epsilon = workspaceMgr.createUninitialized(ArrayType.ACTIVATION_GRAD, input.dataType(), input.shape());
        run("deconv2d", args, new INDArray[] {delta, weights}, new INDArray[] {epsilon});
        // deconv2d_bp(input = dL/dOut, gradO = the conv's input) has the conv's weight gradient as its own; its input
        // gradient (a forward convolution of the conv's input) is not needed.
        INDArray unused = workspaceMgr.createUninitialized(ArrayType.BP_WORKING_MEM, delta.dataType(), delta.shape());
        run("deconv2d_bp", args, new INDArray[] {delta, weights, input}, new INDArray[] {unused, weightGradView});
        Gradient gradient = new DefaultGradient();
        if (bias != null && biasGradView != null) {
            delta.sum(biasGradView.reshape(biasGradView.length()), 0, 2, 3);
            gradient.setGradientFor(ConvolutionParamInitializer.BIAS_KEY, biasGradView);
        }
        gradient.setGradientFor(ConvolutionParamInitializer.WEIGHT_KEY, weightGradView, 'c');
        return new Pair<>(gradient, epsilon);
    }

    /**
     * Whether an array made in a workspace is still live there: attached, the workspace's scope open, and the
     * workspace not closed and reopened since (its generation unchanged). {@code isInScope()} and {@code wasClosed()}
     * alone do not tell: an array from the previous step or call is "in scope" again once the workspace reopens.
     */
    static boolean liveInItsWorkspace(INDArray array) {
        if (array == null || !array.isAttached() || array.wasClosed()) {
            return false;
        }
        MemoryWorkspace workspace = array.data().getParentWorkspace();
        return workspace != null && workspace.isScopeActive()
                && workspace.getGenerationId() == array.data().getGenerationId();
    }

    /** Drops the forward output kept for backprop (it belongs to a workspace this helper does not manage). */
    void forgetForwardOutput() {
        lastInput = new WeakReference<>(null);
        lastWeights = new WeakReference<>(null);
        lastOutput = new WeakReference<>(null);
    }

    /** Input channels up to which the direct backward pass beats Winograd (measured, see the class comment). */
    static final long DIRECT_MAX_INPUT_CHANNELS = 16;
    /** Feature-map side up to which the direct backward pass beats Winograd at any channel count (measured). */
    static final long DIRECT_MAX_SIDE = 7;

    /**
     * The symmetric (top, left) padding with which a stride-1 transposed convolution of {@code delta} gives back the
     * input's size, or null where the parent's backward pass is taken: where oneDNN would not pick Winograd (other
     * kernels, strides, dilations or channel counts, no AVX-512), where its Winograd is the faster (more than
     * {@value #DIRECT_MAX_INPUT_CHANNELS} input channels on a map larger than {@value #DIRECT_MAX_SIDE}x{@value
     * #DIRECT_MAX_SIDE}), or where the route does not fit (causal or uneven padding, NHWC, other data types).
     */
    static int[] directPadding(int[] kernel, int[] strides, int[] pad, ConvolutionMode convolutionMode,
                               int[] dilation, CNN2DFormat format, INDArray input, INDArray weights, INDArray delta) {
        if (!WINOGRAD_CPU || kernel[0] != 3 || kernel[1] != 3 || weights.size(0) % 16 != 0
                || weights.size(1) % 16 != 0
                || strides[0] != 1 || strides[1] != 1 || dilation[0] != 1 || dilation[1] != 1 || format != CNN2DFormat.NCHW
                || input.dataType() != DataType.FLOAT || weights.dataType() != DataType.FLOAT
                || delta.dataType() != DataType.FLOAT || input.rank() != 4) {
            return null;
        }
        if (weights.size(1) > DIRECT_MAX_INPUT_CHANNELS
                && (input.size(2) > DIRECT_MAX_SIDE || input.size(3) > DIRECT_MAX_SIDE)) {
            return null; // Winograd's backward pass is the faster here
        }
        int[] padding;
        if (convolutionMode == ConvolutionMode.Same) {
            if (kernel[0] % 2 == 0 || kernel[1] % 2 == 0) {
                return null; // DL4J pads an even kernel unevenly
            }
            padding = new int[] {(kernel[0] - 1) / 2, (kernel[1] - 1) / 2};
        } else if (convolutionMode == ConvolutionMode.Truncate || convolutionMode == ConvolutionMode.Strict) {
            padding = new int[] {pad[0], pad[1]};
        } else {
            return null;
        }
        for (int d = 0; d < 2; d++) {
            long in = input.size(2 + d);
            long out = delta.size(2 + d);
            if (out != in + 2L * padding[d] - kernel[d] + 1) {
                return null;
            }
        }
        return padding;
    }

    static boolean winogradCpu() {
        Backend.CpuFeatures cpu = Backend.CpuFeatures.detect();
        boolean avx512Core = cpu.has("avx512f") && cpu.has("avx512bw") && cpu.has("avx512vl") && cpu.has("avx512dq");
        for (String cap : new String[] {"ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"}) {
            String isa = System.getenv(cap);
            if (isa != null && !isa.isBlank() && !isa.trim().toUpperCase(Locale.ROOT).startsWith("AVX512")
                    && !isa.trim().equalsIgnoreCase("ALL")) {
                return false;
            }
        }
        return avx512Core;
    }

    static void run(String op, long[] intArgs, INDArray[] inputs, INDArray[] outputs) {
        try (OpContext context = Nd4j.getExecutioner().buildContext()) {
            context.setIArguments(intArgs);
            context.setInputArrays(inputs);
            context.setOutputArrays(outputs);
            Nd4j.getExecutioner().exec(DynamicCustomOp.builder(op).build(), context);
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException(op + ": " + e.getMessage(), e);
        }
    }
}
