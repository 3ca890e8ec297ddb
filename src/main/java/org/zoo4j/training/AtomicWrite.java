package org.zoo4j.training;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/** Writes files so that a reader, or a run killed at any moment, sees the old content or the new, never a part. */
final class AtomicWrite {
    private AtomicWrite() {
    }

    interface Body {
        void writeTo(Path temp) throws IOException;
    }

    static void text(Path target, String content) throws IOException {
        file(target, temp -> Files.writeString(temp, content, StandardCharsets.UTF_8));
    }

    static void stream(Path target, IoConsumer<OutputStream> body) throws IOException {
        file(target, temp -> {
            try (OutputStream out = Files.newOutputStream(temp)) {
                body.accept(out);
            }
        });
    }

    interface IoConsumer<T> {
        void accept(T t) throws IOException;
    }

    /** Lets {@code body} fill a temporary file beside {@code target}, syncs it, and renames it over the target. */
    static void file(Path target, Body body) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path temp = Files.createTempFile(dir, "." + target.getFileName(), ".part");
        try {
            body.writeTo(temp);
            try {
                // createTempFile makes owner-only files; results and models are for everyone who can read the run.
                Files.setPosixFilePermissions(temp, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
            } catch (UnsupportedOperationException notPosix) {
                // Windows: the default permissions are fine
            }
            // Without the sync a power cut could leave the renamed file empty on some file systems.
            try (var channel = java.nio.channels.FileChannel.open(temp, java.nio.file.StandardOpenOption.WRITE)) {
                channel.force(true);
            }
            try {
                Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(temp);
        }
    }
}
