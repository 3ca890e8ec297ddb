package org.zoo4j.transfer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class SafeTensorsTest {
    @TempDir
    Path dir;

    @Test
    void readsF32TensorsAndMetadataInHeaderOrder() throws IOException {
        Map<String, SafeTensorsFiles.Tensor> t = new LinkedHashMap<>();
        t.put("b.weight", new SafeTensorsFiles.Tensor(new long[] {2, 3}, new float[] {1, -2, 3.5f, 4, 5, 6e-8f}));
        t.put("a.bias", new SafeTensorsFiles.Tensor(new long[] {1}, new float[] {Float.MAX_VALUE}));
        t.put("scalar", new SafeTensorsFiles.Tensor(new long[] {}, new float[] {7}));
        Path f = dir.resolve("t.safetensors");
        SafeTensorsFiles.writeF32(f, t);
        try (SafeTensors st = SafeTensors.open(f)) {
            assertEquals(List.of("b.weight", "a.bias", "scalar"), List.copyOf(st.tensors().keySet()));
            assertArrayEquals(new long[] {2, 3}, st.info("b.weight").shape());
            assertArrayEquals(new float[] {1, -2, 3.5f, 4, 5, 6e-8f}, st.floats("b.weight"));
            assertArrayEquals(new float[] {Float.MAX_VALUE}, st.floats("a.bias"));
            assertArrayEquals(new float[] {7}, st.floats("scalar"));
        }
    }

    @Test
    void convertsF16AndBf16Exactly() throws IOException {
        // F16: 1, -2, 65504 (max), 2^-24 (smallest subnormal), 2^-14 (smallest normal), -0, +inf, 0.333251953125
        short[] half = {0x3C00, (short) 0xC000, 0x7BFF, 0x0001, 0x0400, (short) 0x8000, 0x7C00, 0x3555};
        float[] halfValues = {1, -2, 65504, 0x1p-24f, 0x1p-14f, -0f, Float.POSITIVE_INFINITY, 0.333251953125f};
        // BF16: 1, -pi rounded (0xC049 = -3.140625), 2^-133 (subnormal), 3.3895314e38 (max)
        short[] bf = {0x3F80, (short) 0xC049, 0x0001, 0x7F7F};
        float[] bfValues = {1, -3.140625f, Float.intBitsToFloat(0x00010000), Float.intBitsToFloat(0x7F7F0000)};
        ByteBuffer data = ByteBuffer.allocate(2 * (half.length + bf.length)).order(ByteOrder.LITTLE_ENDIAN);
        for (short s : half) {
            data.putShort(s);
        }
        for (short s : bf) {
            data.putShort(s);
        }
        Path f = dir.resolve("h.safetensors");
        SafeTensorsFiles.write(f, "{\"__metadata__\":{\"format\":\"pt\"},"
                + "\"h\":{\"dtype\":\"F16\",\"shape\":[8],\"data_offsets\":[0,16]},"
                + "\"b\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[16,24]}}", data.array());
        try (SafeTensors st = SafeTensors.open(f)) {
            assertEquals(Map.of("format", "pt"), st.metadata());
            float[] h = st.floats("h");
            for (int i = 0; i < h.length; i++) {
                assertEquals(Float.floatToIntBits(halfValues[i]), Float.floatToIntBits(h[i]), "F16 element " + i);
            }
            assertArrayEquals(bfValues, st.floats("b"));
        }
        assertTrue(Float.isNaN(SafeTensors.halfToFloat((short) 0x7E00)));
    }

    @Test
    void integerTensorsAreListedButNotConvertedToFloat() throws IOException {
        Path f = dir.resolve("i.safetensors");
        SafeTensorsFiles.write(f, "{\"n\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]}}", new byte[8]);
        try (SafeTensors st = SafeTensors.open(f)) {
            assertEquals(SafeTensors.DType.I64, st.info("n").dtype());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> st.floats("n"));
            assertTrue(e.getMessage().contains("I64"), e.getMessage());
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "not JSON | {\"a\":  | 0 | not JSON",
            "not an object | [1,2] | 0 | not a JSON object",
            "unknown dtype | {\"a\":{\"dtype\":\"F8\",\"shape\":[1],\"data_offsets\":[0,1]}} | 1 | dtype 'F8'",
            "offsets past the data | {\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}} | 8 | outside the 8-byte",
            "offsets reversed | {\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}} | 8 | outside",
            "span not the shape | {\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}} | 8 | needs 3 x 4 bytes",
            "negative dimension | {\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}} | 4 | non-negative",
            "huge shape | {\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4],\"data_offsets\":[0,4]}} | 4 | overflows",
            "overlap | {\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}} | 8 | overlap",
            "no offsets | {\"a\":{\"dtype\":\"F32\",\"shape\":[1]}} | 4 | data_offsets must be two integers",
    })
    void rejectsMalformedHeaders(String why, String header, int dataBytes, String message) throws IOException {
        Path f = dir.resolve("bad.safetensors");
        SafeTensorsFiles.write(f, header, new byte[dataBytes]);
        SafeTensors.SafeTensorsException e = assertThrows(SafeTensors.SafeTensorsException.class, () -> SafeTensors.open(f));
        assertTrue(e.getMessage().contains(message), why + ": " + e.getMessage());
        assertTrue(e.getMessage().startsWith(f.toString()), "names the file: " + e.getMessage());
    }

    @Test
    void rejectsAHeaderLengthBeyondTheFileWithoutAllocatingIt() throws IOException {
        Path f = dir.resolve("long.safetensors");
        ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1L << 60).putLong(0);
        Files.write(f, b.array());
        SafeTensors.SafeTensorsException e = assertThrows(SafeTensors.SafeTensorsException.class, () -> SafeTensors.open(f));
        assertTrue(e.getMessage().contains("header length 1152921504606846976 does not fit a file of 16 bytes"), e.getMessage());
        // Negative as a signed long (the top bit set): still refused, reported unsigned.
        Files.write(f, ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(-8).putLong(0).array());
        e = assertThrows(SafeTensors.SafeTensorsException.class, () -> SafeTensors.open(f));
        assertTrue(e.getMessage().contains("18446744073709551608"), e.getMessage());
        Files.write(f, new byte[5]);
        e = assertThrows(SafeTensors.SafeTensorsException.class, () -> SafeTensors.open(f));
        assertTrue(e.getMessage().contains("only 5 bytes"), e.getMessage());
    }

    @Test
    void aPickleIsNotMistakenForSafetensors() throws IOException {
        // A torch.save zip starts with "PK\3\4": read as a length that is far beyond the file.
        Path f = dir.resolve("model.pth");
        byte[] zip = new byte[64];
        zip[0] = 'P';
        zip[1] = 'K';
        zip[2] = 3;
        zip[3] = 4;
        Files.write(f, zip);
        SafeTensors.SafeTensorsException e = assertThrows(SafeTensors.SafeTensorsException.class, () -> SafeTensors.open(f));
        assertTrue(e.getMessage().contains("not a safetensors file"), e.getMessage());
    }
}
