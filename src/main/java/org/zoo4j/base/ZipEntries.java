package org.zoo4j.base;

import java.io.IOException;
import java.io.InputStream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

/** Copying a zip's entries into another zip, keeping how each was stored. */
public final class ZipEntries {
    private ZipEntries() {
    }

    /**
     * Copies {@code entry} of {@code in} to {@code out}: an entry stored without compression (a model file's
     * parameters) is copied as it is, a compressed one is compressed again (the JDK cannot copy compressed data raw).
     */
    public static void copy(ZipFile in, ZipEntry entry, ZipOutputStream out) throws IOException {
        ZipEntry copy = new ZipEntry(entry.getName());
        if (entry.getMethod() == ZipEntry.STORED) {
            copy.setMethod(ZipEntry.STORED);
            copy.setSize(entry.getSize());
            copy.setCompressedSize(entry.getSize());
            copy.setCrc(entry.getCrc());
        }
        out.putNextEntry(copy);
        try (InputStream data = in.getInputStream(entry)) {
            data.transferTo(out);
        }
        out.closeEntry();
    }
}
