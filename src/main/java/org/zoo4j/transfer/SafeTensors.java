package org.zoo4j.transfer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads a safetensors file: an 8-byte little-endian header length, a JSON header naming each tensor's dtype, shape and
 * byte range, then the raw little-endian data. Only the header is read on open; tensors are read one at a time, so a
 * large file never sits in memory whole. Every header field is checked against the file before anything is allocated
 * from it, so a corrupt or hostile header fails with a message instead of an out-of-memory error.
 */
public final class SafeTensors implements Closeable {
    /** Headers beyond this are refused; real ones are a few hundred kilobytes at most. */
    static final long MAX_HEADER_BYTES = 100L << 20;

    /**
     * The element types of the format. F64, F32, F16 and BF16 convert to float; the integer and boolean types are
     * accepted in a header (torch writes {@code num_batches_tracked} as I64) but not converted.
     */
    public enum DType {
        F64(8, true), F32(4, true), F16(2, true), BF16(2, true),
        I64(8, false), I32(4, false), I16(2, false), I8(1, false), U8(1, false), BOOL(1, false);

        final int bytes;
        final boolean floating;

        DType(int bytes, boolean floating) {
            this.bytes = bytes;
            this.floating = floating;
        }
    }

    /**
     * One tensor's header entry.
     *
     * @param begin byte offset of its data from the start of the data section
     * @param end   byte offset one past its data
     */
    public record Info(String name, DType dtype, long[] shape, long begin, long end) {
        public long elements() {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            return n;
        }

        public String shapeText() {
            return WeightsImport.shapeText(shape);
        }
    }

    private final Path file;
    private final FileChannel channel;
    private final long dataStart;
    private final Map<String, Info> tensors;
    private final Map<String, String> metadata;

    private SafeTensors(Path file, FileChannel channel, long dataStart, Map<String, Info> tensors,
                        Map<String, String> metadata) {
        this.file = file;
        this.channel = channel;
        this.dataStart = dataStart;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /** Opens {@code file} and checks its header; the caller closes it. */
    public static SafeTensors open(Path file) throws IOException {
        FileChannel channel = FileChannel.open(file, StandardOpenOption.READ);
        try {
            long size = channel.size();
            if (size < 8) {
                throw bad(file, "only " + size + " bytes; a safetensors file starts with an 8-byte header length");
            }
            ByteBuffer lengthBytes = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(channel, lengthBytes, 0);
            long headerLength = lengthBytes.flip().getLong();
            if (headerLength < 2 || headerLength > size - 8 || headerLength > MAX_HEADER_BYTES) {
                throw bad(file, "header length " + Long.toUnsignedString(headerLength) + " does not fit a file of "
                        + size + " bytes (or exceeds " + MAX_HEADER_BYTES + "); not a safetensors file, or truncated");
            }
            ByteBuffer headerBytes = ByteBuffer.allocate((int) headerLength);
            readFully(channel, headerBytes, 8);
            long dataStart = 8 + headerLength;
            Map<String, String> metadata = new LinkedHashMap<>();
            Map<String, Info> tensors = parseHeader(file, headerBytes.array(), size - dataStart, metadata);
            return new SafeTensors(file, channel, dataStart, tensors, metadata);
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    private static Map<String, Info> parseHeader(Path file, byte[] header, long dataSize, Map<String, String> metadata)
            throws IOException {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(header);
        } catch (JsonProcessingException e) {
            throw bad(file, "header is not JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject()) {
            throw bad(file, "header is not a JSON object");
        }
        Map<String, Info> tensors = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> field = it.next();
            String name = field.getKey();
            JsonNode node = field.getValue();
            if (name.equals("__metadata__")) {
                if (node.isObject()) {
                    node.fields().forEachRemaining(m -> metadata.put(m.getKey(), m.getValue().asText()));
                }
                continue;
            }
            tensors.put(name, parseEntry(file, name, node, dataSize));
        }
        // Tensors may not share bytes: overlapping ranges mean a corrupt header.
        List<Info> byOffset = new ArrayList<>(tensors.values());
        byOffset.sort(Comparator.comparingLong(Info::begin));
        for (int i = 1; i < byOffset.size(); i++) {
            if (byOffset.get(i).begin() < byOffset.get(i - 1).end()) {
                throw bad(file, "tensors " + byOffset.get(i - 1).name() + " and " + byOffset.get(i).name()
                        + " overlap in the data section");
            }
        }
        return Collections.unmodifiableMap(tensors);
    }

    private static Info parseEntry(Path file, String name, JsonNode node, long dataSize) throws IOException {
        if (!node.isObject()) {
            throw bad(file, "tensor " + name + ": entry is not an object");
        }
        String dtypeText = node.path("dtype").asText("");
        DType dtype;
        try {
            dtype = DType.valueOf(dtypeText);
        } catch (IllegalArgumentException e) {
            throw bad(file, "tensor " + name + ": dtype '" + dtypeText + "' is not supported (" + Arrays.toString(DType.values()) + ")");
        }
        JsonNode shapeNode = node.path("shape");
        if (!shapeNode.isArray()) {
            throw bad(file, "tensor " + name + ": no shape array");
        }
        long[] shape = new long[shapeNode.size()];
        long elements = 1;
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = shapeNode.get(i);
            if (!d.canConvertToLong() || !d.isIntegralNumber() || d.asLong() < 0) {
                throw bad(file, "tensor " + name + ": shape " + shapeNode + " has a dimension that is not a "
                        + "non-negative integer");
            }
            shape[i] = d.asLong();
            try {
                elements = Math.multiplyExact(elements, shape[i]);
            } catch (ArithmeticException e) {
                throw bad(file, "tensor " + name + ": shape " + shapeNode + " overflows");
            }
        }
        JsonNode offsets = node.path("data_offsets");
        if (!offsets.isArray() || offsets.size() != 2 || !offsets.get(0).isIntegralNumber()
                || !offsets.get(1).isIntegralNumber()) {
            throw bad(file, "tensor " + name + ": data_offsets must be two integers, got " + offsets);
        }
        long begin = offsets.get(0).asLong();
        long end = offsets.get(1).asLong();
        if (begin < 0 || end < begin || end > dataSize) {
            throw bad(file, "tensor " + name + ": data_offsets [" + begin + ", " + end + "] lie outside the "
                    + dataSize + "-byte data section");
        }
        if (elements > Integer.MAX_VALUE || end - begin != elements * dtype.bytes) {
            throw bad(file, "tensor " + name + ": " + dtype + " shape " + shapeNode + " needs " + elements + " x "
                    + dtype.bytes + " bytes, but data_offsets span " + (end - begin));
        }
        return new Info(name, dtype, shape, begin, end);
    }

    /** Tensor names to their header entries, in header order. */
    public Map<String, Info> tensors() {
        return tensors;
    }

    /** The optional {@code __metadata__} strings. */
    public Map<String, String> metadata() {
        return metadata;
    }

    public Info info(String name) {
        Info info = tensors.get(name);
        if (info == null) {
            throw new WeightsException(file + ": no tensor " + name);
        }
        return info;
    }

    /** The tensor's values as floats, in row-major order. */
    public float[] floats(String name) throws IOException {
        Info info = info(name);
        if (!info.dtype().floating) {
            throw new WeightsException(file + ": tensor " + name + " has dtype " + info.dtype()
                    + "; only F64, F32, F16 and BF16 tensors convert to float");
        }
        int n = (int) info.elements();
        ByteBuffer bytes = ByteBuffer.allocate((int) (info.end() - info.begin())).order(ByteOrder.LITTLE_ENDIAN);
        readFully(channel, bytes, dataStart + info.begin());
        bytes.flip();
        float[] out = new float[n];
        switch (info.dtype()) {
            case F32 -> bytes.asFloatBuffer().get(out);
            case F64 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = (float) bytes.getDouble();
                }
            }
            case F16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = halfToFloat(bytes.getShort());
                }
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = Float.intBitsToFloat((bytes.getShort() & 0xffff) << 16);
                }
            }
            default -> throw new IllegalStateException("unreachable: " + info.dtype());
        }
        return out;
    }

    /** IEEE 754 binary16 to float (Java 17 has no Float.float16ToFloat). */
    static float halfToFloat(short half) {
        int h = half & 0xffff;
        int sign = (h & 0x8000) << 16;
        int exponent = (h >>> 10) & 0x1f;
        int mantissa = h & 0x3ff;
        if (exponent == 0x1f) { // infinity or NaN
            return Float.intBitsToFloat(sign | 0x7f800000 | (mantissa << 13));
        }
        if (exponent == 0) {
            if (mantissa == 0) {
                return Float.intBitsToFloat(sign);
            }
            // Subnormal: mantissa * 2^-24, exact in float.
            float value = mantissa * 0x1p-24f;
            return sign == 0 ? value : -value;
        }
        return Float.intBitsToFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
    }

    public Path file() {
        return file;
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }

    private static void readFully(FileChannel channel, ByteBuffer buffer, long position) throws IOException {
        long at = position;
        while (buffer.hasRemaining()) {
            int n = channel.read(buffer, at);
            if (n < 0) {
                throw new IOException("unexpected end of file at byte " + at);
            }
            at += n;
        }
    }

    private static SafeTensorsException bad(Path file, String why) {
        return new SafeTensorsException(file + ": " + why);
    }

    /** A file that is not valid safetensors. A user error: the message says what is wrong. */
    public static final class SafeTensorsException extends WeightsException {
        SafeTensorsException(String message) {
            super(message);
        }
    }
}
