package org.zoo4j.data;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;
import org.zoo4j.base.Checksums;

/**
 * An idx file (the MNIST format, gzipped or not) read whole into memory: a header of big-endian dimensions, then
 * unsigned bytes. Only unsigned-byte data (type 0x08) is supported, which is what image datasets use.
 *
 * @param file       where it was read from
 * @param dims       dimension sizes, e.g. {60000, 28, 28} for images or {60000} for labels
 * @param data       the values, row-major
 * @param fileSha256 SHA-256 of the file as stored (hex)
 * @param sha256     SHA-256 of the uncompressed content, header included (hex); equals fileSha256 when not gzipped
 */
record IdxFile(Path file, int[] dims, byte[] data, String fileSha256, String sha256) {

    private static final int UNSIGNED_BYTE = 0x08;

    /** Reads and checks the file; a wrong header or length is a {@link DataException} naming the file. */
    static IdxFile read(Path file) throws IOException {
        MessageDigest fileDigest = Checksums.sha256();
        MessageDigest contentDigest = Checksums.sha256();
        boolean gzip;
        try (InputStream raw = Files.newInputStream(file)) {
            byte[] magic = raw.readNBytes(2);
            gzip = magic.length == 2 && (magic[0] & 0xFF) == 0x1F && (magic[1] & 0xFF) == 0x8B;
        }
        try (InputStream fileIn = new DigestInputStream(new BufferedInputStream(Files.newInputStream(file), 1 << 16),
                fileDigest);
             InputStream in = new DigestInputStream(gzip ? new GZIPInputStream(fileIn, 1 << 16) : fileIn, contentDigest)) {
            byte[] header = in.readNBytes(4);
            if (header.length < 4 || header[0] != 0 || header[1] != 0) {
                throw new DataException(file + ": not an idx file (expected magic bytes 00 00 08 nn at the start); "
                        + "replace it with the original download");
            }
            if ((header[2] & 0xFF) != UNSIGNED_BYTE) {
                throw new DataException(file + ": idx data type 0x" + Integer.toHexString(header[2] & 0xFF)
                        + " is not supported; expected unsigned bytes (0x08)");
            }
            int rank = header[3] & 0xFF;
            if (rank < 1 || rank > 4) {
                throw new DataException(file + ": idx file with " + rank + " dimensions; expected 1 to 4");
            }
            byte[] dimBytes = in.readNBytes(4 * rank);
            if (dimBytes.length < 4 * rank) {
                throw new DataException(file + ": truncated idx header; expected " + rank + " dimension sizes");
            }
            int[] dims = new int[rank];
            long count = 1;
            for (int i = 0; i < rank; i++) {
                dims[i] = ((dimBytes[4 * i] & 0xFF) << 24) | ((dimBytes[4 * i + 1] & 0xFF) << 16)
                        | ((dimBytes[4 * i + 2] & 0xFF) << 8) | (dimBytes[4 * i + 3] & 0xFF);
                if (dims[i] < 0) {
                    throw new DataException(file + ": idx dimension " + i + " is negative; the file is corrupt");
                }
                count *= dims[i];
            }
            if (count > Integer.MAX_VALUE - 64) {
                throw new DataException(file + ": idx data of " + count + " bytes (" + Arrays.toString(dims)
                        + ") is too large to hold in memory");
            }
            byte[] data = new byte[(int) count];
            int got = in.readNBytes(data, 0, data.length);
            if (got < data.length) {
                throw new DataException(file + ": truncated: the header promises " + Arrays.toString(dims) + " = "
                        + data.length + " bytes of data but the file holds " + got
                        + "; delete it and get the complete file again");
            }
            if (in.read() != -1) {
                throw new DataException(file + ": holds more data than its header " + Arrays.toString(dims)
                        + " says (" + data.length + " bytes); the file is corrupt, get it again");
            }
            fileIn.transferTo(OutputStream.nullOutputStream()); // the rest of the gzip trailer, into the file digest
            HexFormat hex = HexFormat.of();
            return new IdxFile(file, dims, data, hex.formatHex(fileDigest.digest()), hex.formatHex(contentDigest.digest()));
        } catch (EOFException | ZipException e) {
            throw new DataException(file + ": truncated or corrupt gzip data (" + e.getMessage()
                    + "); delete it and get the complete file again", e);
        }
    }
}
