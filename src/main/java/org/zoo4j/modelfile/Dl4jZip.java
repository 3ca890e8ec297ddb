package org.zoo4j.modelfile;

import java.io.BufferedOutputStream;
import java.io.DataOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.CRC32;
import java.util.zip.CheckedOutputStream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataBuffer;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Writes the zip that DL4J's {@code ModelSerializer.writeModel(model, file, withUpdater)} writes: the same entries with
 * the same contents, byte for byte, which DL4J's reader and zoo4j's read as before. Two things differ. The arrays are
 * stored, not compressed ({@link #writeArray}). And the parameters are not copied first: a network's {@code params()}
 * is a view of its flat parameter buffer, and {@code Nd4j.write} duplicates every view before writing it, native
 * memory as large as the parameters (VGG16-BN: 56 MB) for each checkpoint, held until the garbage collector frees it,
 * two writes an epoch in a training loop. Here the parameters are written from their own memory ({@link #withoutCopy};
 * training/benchmarks/README.md, "Checkpoints and the final test").
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
                writeArray("coefficients.bin", params, zip);
            }
            if (updaterState != null && updaterState.length() > 0) {
                writeArray("updaterState.bin", updaterState, zip);
            }
        }
    }

    /**
     * An array as {@code Nd4j.write} writes it, stored without compression, as PyTorch stores its tensors: float
     * parameters and optimiser state barely compress (a VGG16-BN checkpoint by 8%) and compressing them took most of a
     * checkpoint's time. A stored entry's size and checksum come before its data, so the array is written twice, the
     * first time only to count and checksum its bytes (no copy of it is held).
     */
    private static void writeArray(String name, INDArray array, ZipOutputStream zip) throws IOException {
        INDArray whole = withoutCopy(array);
        CRC32 crc = new CRC32();
        long size;
        try (CountingOutputStream counted = new CountingOutputStream(new CheckedOutputStream(
                OutputStream.nullOutputStream(), crc))) {
            write(whole, counted);
            size = counted.count;
        }
        ZipEntry entry = new ZipEntry(name);
        entry.setMethod(ZipEntry.STORED);
        entry.setSize(size);
        entry.setCompressedSize(size);
        entry.setCrc(crc.getValue());
        zip.putNextEntry(entry);
        write(whole, zip);
        zip.closeEntry();
    }

    private static void write(INDArray array, OutputStream out) throws IOException {
        DataOutputStream data = new DataOutputStream(new BufferedOutputStream(out, 1 << 16));
        Nd4j.write(array, data);
        data.flush();
    }

    /** Counts the bytes written through it. */
    private static final class CountingOutputStream extends FilterOutputStream {
        long count;

        CountingOutputStream(OutputStream out) {
            super(out);
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b);
            count++;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            count += len;
        }
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
