package org.zoo4j.transfer;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/** Writes safetensors files for tests: F32 tensors from arrays, or raw headers and bytes for malformed cases. */
final class SafeTensorsFiles {
    private SafeTensorsFiles() {
    }

    /** A tensor to write: its shape and row-major values. */
    record Tensor(long[] shape, float[] values) {
    }

    static void writeF32(Path file, Map<String, Tensor> tensors) throws IOException {
        StringBuilder header = new StringBuilder("{");
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            ByteBuffer b = ByteBuffer.allocate(4 * e.getValue().values().length).order(ByteOrder.LITTLE_ENDIAN);
            b.asFloatBuffer().put(e.getValue().values());
            if (header.length() > 1) {
                header.append(',');
            }
            header.append('"').append(e.getKey()).append("\":{\"dtype\":\"F32\",\"shape\":")
                    .append(Arrays.toString(e.getValue().shape()).replace(" ", ""))
                    .append(",\"data_offsets\":[").append(data.size()).append(',').append(data.size() + b.capacity())
                    .append("]}");
            data.write(b.array());
        }
        header.append('}');
        write(file, header.toString(), data.toByteArray());
    }

    /** A file with this JSON header (its true length in the prefix) and these data bytes. */
    static void write(Path file, String header, byte[] data) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer out = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(h.length).put(h).put(data);
        Files.write(file, out.array());
    }

    /** Every tensor of {@code file} as F32 (integer tensors dropped), to edit and write back. */
    static Map<String, Tensor> readAll(Path file) throws IOException {
        Map<String, Tensor> out = new LinkedHashMap<>();
        try (SafeTensors st = SafeTensors.open(file)) {
            for (SafeTensors.Info info : st.tensors().values()) {
                if (info.dtype().floating) {
                    out.put(info.name(), new Tensor(info.shape(), st.floats(info.name())));
                }
            }
        }
        return out;
    }
}
