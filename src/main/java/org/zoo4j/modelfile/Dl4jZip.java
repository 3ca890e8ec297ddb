package org.zoo4j.modelfile;

import java.io.BufferedOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataBuffer;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Writes the zip that DL4J's {@code ModelSerializer.writeModel(model, file, withUpdater)} writes (the same entries with
 * the same contents, byte for byte; only the zip's timestamps differ), without the copy of the parameters it makes. A network's {@code params()} is a view of its flat
 * parameter buffer, and {@code Nd4j.write} duplicates every view before writing it: native memory as large as the
 * parameters (VGG16-BN: 56 MB) for each checkpoint, held until the garbage collector frees it, so that a training
 * loop's two writes an epoch raised its peak resident set by about 120 MB. Here the parameters are written from their
 * own memory ({@link #withoutCopy}).
 */
final class Dl4jZip {
    private Dl4jZip() {
    }

    /** Writes {@code net} (a graph or a multi-layer network) to {@code file}, with its updater state if asked. */
    static void write(Model net, Path file, boolean withUpdater) throws IOException {
        String configuration;
        INDArray updaterState;
        if (net instanceof ComputationGraph graph) {
            configuration = graph.getConfiguration().toJson();
            updaterState = withUpdater && graph.getUpdater() != null ? graph.getUpdater().getStateViewArray() : null;
        } else if (net instanceof MultiLayerNetwork mln) {
            configuration = mln.getLayerWiseConfigurations().toJson();
            updaterState = withUpdater && mln.getUpdater() != null ? mln.getUpdater().getStateViewArray() : null;
        } else {
            throw new IllegalArgumentException("a model file holds a ComputationGraph or a MultiLayerNetwork, not "
                    + net.getClass().getName());
        }
        try (OutputStream out = Files.newOutputStream(file); ZipOutputStream zip = new ZipOutputStream(out)) {
            zip.putNextEntry(new ZipEntry("configuration.json"));
            zip.write(configuration.getBytes(StandardCharsets.UTF_8));
            INDArray params = net.params();
            if (params == null) {
                zip.putNextEntry(new ZipEntry("noParams.marker"));
            } else {
                zip.putNextEntry(new ZipEntry("coefficients.bin"));
                writeArray(params, zip);
            }
            if (updaterState != null && updaterState.length() > 0) {
                zip.putNextEntry(new ZipEntry("updaterState.bin"));
                writeArray(updaterState, zip);
            }
        }
    }

    private static void writeArray(INDArray array, ZipOutputStream zip) throws IOException {
        DataOutputStream data = new DataOutputStream(new BufferedOutputStream(zip));
        Nd4j.write(withoutCopy(array), data);
        data.flush();
    }

    /**
     * {@code array} itself, or, where it is a view only because its buffer is a view of a buffer of the same length
     * (as a network's parameters are), from offset 0 in C order, an array over that underlying buffer: the same shape,
     * order, memory and elements, not a view, which {@code Nd4j.write} writes without a copy. Any other view is
     * returned as it is (and copied by {@code Nd4j.write}, as before).
     */
    static INDArray withoutCopy(INDArray array) {
        DataBuffer data = array.data();
        DataBuffer whole = data.originalDataBuffer();
        if (!array.isView() || whole == null || whole.originalDataBuffer() != null || array.offset() != 0
                || data.offset() != 0 || array.ordering() != 'c' || array.elementWiseStride() != 1
                || whole.length() != array.length() || whole.dataType() != array.dataType()) {
            return array;
        }
        return Nd4j.create(whole, array.shape());
    }
}
