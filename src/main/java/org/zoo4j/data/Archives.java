package org.zoo4j.data;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;
import org.zoo4j.base.AtomicFiles;

/** Safe extraction of .tar.gz archives: no entry may write outside the target folder, and links are refused. */
final class Archives {
    private Archives() {
    }

    /**
     * Unpacks {@code archive} so that its folder {@code folder} ends up as {@code targetParent/folder}. Everything is
     * unpacked into a hidden temporary folder first; the listed {@code members} (path to size) must come out with
     * their sizes; only then is the folder renamed into place. On any failure nothing is left behind.
     */
    static Path extractTarGz(Path archive, Path targetParent, String folder, Map<String, Long> members)
            throws IOException {
        Files.createDirectories(targetParent);
        Path temp = Files.createTempDirectory(targetParent, ".extract-");
        try {
            Path root = temp.toRealPath();
            try (InputStream in = new TarArchiveInputStream(new GzipCompressorInputStream(
                    new BufferedInputStream(Files.newInputStream(archive), 1 << 16)))) {
                TarArchiveInputStream tar = (TarArchiveInputStream) in;
                for (TarArchiveEntry entry; (entry = tar.getNextTarEntry()) != null; ) {
                    Path out = root.resolve(entry.getName()).normalize();
                    if (!out.startsWith(root) || out.equals(root) && !entry.isDirectory()) {
                        throw new DataException(archive + ": unsafe entry '" + entry.getName()
                                + "' would be written outside " + targetParent + "; the archive is not the expected one");
                    }
                    if (entry.isSymbolicLink() || entry.isLink()) {
                        throw new DataException(archive + ": entry '" + entry.getName() + "' is a link; links are not "
                                + "extracted, the archive is not the expected one");
                    }
                    if (entry.isDirectory()) {
                        Files.createDirectories(out);
                    } else if (entry.isFile()) {
                        Files.createDirectories(out.getParent());
                        try (OutputStream file = Files.newOutputStream(out)) {
                            tar.transferTo(file);
                        }
                    } else {
                        throw new DataException(archive + ": entry '" + entry.getName() + "' is not a plain file or "
                                + "folder; the archive is not the expected one");
                    }
                }
            }
            for (Map.Entry<String, Long> member : members.entrySet()) {
                Path file = root.resolve(member.getKey());
                if (!Files.isRegularFile(file)) {
                    throw new DataException(archive + ": " + member.getKey() + " is missing from the archive");
                }
                if (member.getValue() != null && Files.size(file) != member.getValue()) {
                    throw new DataException(archive + ": " + member.getKey() + " has " + Files.size(file)
                            + " bytes, expected " + member.getValue());
                }
            }
            Path unpacked = root.resolve(folder).normalize();
            if (!unpacked.startsWith(root) || !Files.isDirectory(unpacked)) {
                throw new DataException(archive + ": has no folder " + folder + "; the archive is not the expected one");
            }
            Path target = targetParent.resolve(folder);
            AtomicFiles.move(unpacked, target);
            return target;
        } finally {
            AtomicFiles.deleteTree(temp);
        }
    }
}
