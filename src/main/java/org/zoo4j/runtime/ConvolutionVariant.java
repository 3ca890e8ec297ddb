package org.zoo4j.runtime;

import org.bytedeco.dnnl.global.dnnl;
import org.bytedeco.dnnl.memory;

/**
 * How the primitives are asked for: the activations' layout ({@code any}: oneDNN's choice, or a fixed tag such as
 * {@code nhwc} or {@code nchw}) and which passes may use Winograd (where oneDNN refuses it, direct). The default
 * is what was measured fastest (training/benchmarks/README.md); the others are kept for that measurement.
 */
record ConvolutionVariant(String name, memory.format_tag activations, boolean winogradForward, boolean winogradData,
               boolean winogradWeights, boolean winogradByRule) {
    /**
     * oneDNN's choice of layout; Winograd for all three passes of 3x3 stride-1 convolutions with at least
     * {@value #WINOGRAD_MIN_CHANNELS} input and output channels and an output of at least {@value
     * #WINOGRAD_MIN_SIDE}x{@value #WINOGRAD_MIN_SIDE}, direct otherwise. Measured per shape on a 2-core AVX-512
     * CPU: Winograd took 0.5x to 0.7x the direct time on VGG16-BN's 64- to 512-channel layers from 32x32 down to
     * 4x4 and on ResNet-20's 32- and 64-channel ones, but 1.9x at 2x2 (its 4x4 output tiles are mostly padding
     * there) and 1.2x to 4x with 1 or 16 input channels (its transforms outweigh the saved products).
     */
    static final ConvolutionVariant DEFAULT = new ConvolutionVariant("onednn", memory.format_tag.any, true, true, true, true);

    /**
     * The variants the benchmark knows by name: onednn (the default), onednn-direct (never Winograd), onednn-wino
     * (Winograd wherever oneDNN takes it), onednn-wino-data (there, for backward data only), onednn-nhwc and
     * onednn-nchw (activations in that layout instead of oneDNN's choice, direct).
     */
    static ConvolutionVariant named(String name) {
        return switch (name) {
            case "onednn" -> DEFAULT;
            case "onednn-direct" -> new ConvolutionVariant(name, memory.format_tag.any, false, false, false, false);
            case "onednn-wino" -> new ConvolutionVariant(name, memory.format_tag.any, true, true, true, false);
            case "onednn-wino-data" -> new ConvolutionVariant(name, memory.format_tag.any, false, true, false, false);
            case "onednn-nhwc" -> new ConvolutionVariant(name, memory.format_tag.nhwc, false, false, false, false);
            case "onednn-nchw" -> new ConvolutionVariant(name, memory.format_tag.nchw, false, false, false, false);
            default -> throw new IllegalArgumentException("no oneDNN variant " + name);
        };
    }

    static final long WINOGRAD_MIN_CHANNELS = 32;
    static final long WINOGRAD_MIN_SIDE = 4;

    dnnl.algorithm forward(ConvolutionShape k) {
        return algorithm(winogradForward, k);
    }

    dnnl.algorithm backwardData(ConvolutionShape k) {
        return algorithm(winogradData, k);
    }

    dnnl.algorithm backwardWeights(ConvolutionShape k) {
        return algorithm(winogradWeights, k);
    }

    private dnnl.algorithm algorithm(boolean winograd, ConvolutionShape k) {
        // 3x3 stride 1: the only shapes oneDNN's CPU Winograd takes
        boolean shape = k.kh() == 3 && k.kw() == 3 && k.sh() == 1 && k.sw() == 1;
        boolean rule = !winogradByRule || (k.ic() >= WINOGRAD_MIN_CHANNELS && k.oc() >= WINOGRAD_MIN_CHANNELS
                && k.oh() >= WINOGRAD_MIN_SIDE && k.ow() >= WINOGRAD_MIN_SIDE);
        return winograd && shape && rule ? dnnl.algorithm.convolution_winograd : dnnl.algorithm.convolution_direct;
    }
}
