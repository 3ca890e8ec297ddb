package org.zoo4j.base;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Writes files so that readers, or a process killed at any moment, see either the old content or the complete new one:
 * a temporary file beside the target, synced, then renamed over it. Downloads, models, checkpoints and results all
 * go through here.
 */
public final class AtomicFiles {
    private AtomicFiles() {
    }

    /** Produces a file's content into a stream. */
    public interface Body {
        void writeTo(OutputStream out) throws IOException;
    }

    /** Fills the temporary file by path (for writers that open the file themselves, such as zip copiers). */
    public interface PathBody {
        void writeTo(Path temp) throws IOException;
    }

    public static void write(Path target, byte[] content) throws IOException {
        write(target, out -> out.write(content));
    }

    public static void writeString(Path target, String content) throws IOException {
        write(target, content.getBytes(StandardCharsets.UTF_8));
    }

    public static void write(Path target, Body body) throws IOException {
        writeVia(target, temp -> {
            try (OutputStream out = Files.newOutputStream(temp)) {
                body.writeTo(out);
            }
        });
    }

    /** Lets {@code body} fill a temporary file beside {@code target}, syncs it, and renames it over the target. */
    public static void writeVia(Path target, PathBody body) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path temp = Files.createTempFile(dir, "." + target.getFileName(), ".part");
        try {
            body.writeTo(temp);
            try {
                // createTempFile makes owner-only files; what zoo4j writes is for everyone who can read the folder.
                Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rw-r--r--"));
            } catch (UnsupportedOperationException notPosix) {
                // Windows: the default permissions are fine
            }
            // Without the sync a power cut could leave the renamed file empty on some file systems.
            try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.WRITE)) {
                channel.force(true);
            }
            FaultInjection.point("atomic-write:" + target.getFileName());
            move(temp, target);
        } finally {
            Files.deleteIfExists(temp);
        }
    }

    /** Renames {@code temp} over {@code target} atomically (same directory, so the file system supports it). */
    public static void move(Path temp, Path target) throws IOException {
        try {
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** Deletes {@code dir} and everything under it; nothing happens when it does not exist. */
    public static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
