package org.zoo4j.data;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zoo4j.base.Checksums;

/**
 * Finds a known dataset's files. Order: an explicit folder (when given, only there); the cache folder
 * ({@code <cache>/<dataset>/}); the folders of system packages that install the dataset (Debian's
 * {@code dataset-fashion-mnist}); else a download into the cache (when allowed). When a file cannot be had, the error
 * names it, where it was looked for, and the ways to get it.
 *
 * <p>The cache folder is the system property {@value #CACHE_PROPERTY}, else the environment variable
 * {@value #CACHE_ENV}, else {@code ~/.zoo4j/data}.
 */
public final class DatasetFiles {
    private static final Logger log = LoggerFactory.getLogger(DatasetFiles.class);
    public static final String CACHE_ENV = "ZOO4J_DATA";
    public static final String CACHE_PROPERTY = "zoo4j.data";

    private final String name;
    private final DatasetManifest.Dataset dataset;
    private final Path explicit;
    private final Path cache;
    private final boolean download;
    private final Downloader downloader;

    DatasetFiles(String name, DatasetManifest.Dataset dataset, Path explicit, Path cacheRoot, boolean download,
                 PrintStream progress) {
        this.name = name;
        this.dataset = dataset;
        this.explicit = explicit;
        this.cache = cacheRoot.resolve(name);
        this.download = download;
        this.downloader = new Downloader(progress);
    }

    /** The cache root: {@value #CACHE_PROPERTY}, else {@value #CACHE_ENV}, else ~/.zoo4j/data. */
    public static Path cacheRoot() {
        String dir = System.getProperty(CACHE_PROPERTY);
        if (dir == null || dir.isBlank()) {
            dir = System.getenv(CACHE_ENV);
        }
        if (dir == null || dir.isBlank()) {
            return Path.of(System.getProperty("user.home"), ".zoo4j", "data");
        }
        return Path.of(dir);
    }

    /** Folders searched, in order, before downloading. */
    List<Path> searchPath() {
        if (explicit != null) {
            return List.of(explicit);
        }
        List<Path> dirs = new ArrayList<>();
        dirs.add(cache);
        for (DatasetManifest.Installed installed : dataset.installed()) {
            dirs.add(Path.of(installed.dir()));
        }
        return dirs;
    }

    /**
     * The local path of a plain file (the idx files): found under its own name or, for a .gz, its uncompressed name,
     * else downloaded into the cache.
     */
    public Path file(String role) {
        DatasetManifest.FileEntry entry = dataset.file(role);
        List<String> names = new ArrayList<>(List.of(entry.name()));
        if (entry.name().endsWith(".gz")) {
            names.add(entry.name().substring(0, entry.name().length() - 3));
        }
        for (Path dir : searchPath()) {
            for (String n : names) {
                Path candidate = dir.resolve(n);
                if (Files.isRegularFile(candidate)) {
                    return candidate;
                }
            }
        }
        Path target = cache.resolve(entry.name());
        fetch(entry, target);
        return target;
    }

    /**
     * The local folder holding an archive's contents (CIFAR-10's batches): an unpacked folder where one is found,
     * else the archive is unpacked (found or downloaded) into the cache and deleted.
     */
    public Path unpacked(String role) {
        DatasetManifest.FileEntry entry = dataset.file(role);
        for (Path dir : searchPath()) {
            for (Path candidate : List.of(dir.resolve(entry.extract()), dir)) {
                if (hasMembers(candidate, entry)) {
                    return candidate;
                }
            }
        }
        Path archive = null;
        for (Path dir : searchPath()) {
            if (Files.isRegularFile(dir.resolve(entry.name()))) {
                archive = dir.resolve(entry.name());
                break;
            }
        }
        boolean downloaded = false;
        if (archive == null) {
            archive = cache.resolve(entry.name());
            fetch(entry, archive);
            downloaded = true;
        }
        try {
            String sha = Checksums.sha256(archive);
            if (!sha.equalsIgnoreCase(entry.sha256())) {
                throw new DataException(archive + ": checksum mismatch: expected sha256 " + entry.sha256() + ", got "
                        + sha + "; delete it so that it is downloaded again, or replace it with the original file");
            }
            log.info("unpacking {} into {}", archive, cache);
            Path out = Archives.extractTarGz(archive, cache, entry.extract(), entry.members());
            if (downloaded || archive.startsWith(cache)) {
                Files.deleteIfExists(archive);
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(archive + ": cannot unpack: " + e.getMessage(), e);
        }
    }

    private static boolean hasMembers(Path dir, DatasetManifest.FileEntry entry) {
        if (!Files.isDirectory(dir) || entry.members().isEmpty()) {
            return false;
        }
        for (String member : entry.members().keySet()) {
            String relative = member.startsWith(entry.extract() + "/") ? member.substring(entry.extract().length() + 1) : member;
            if (!Files.isRegularFile(dir.resolve(relative))) {
                return false;
            }
        }
        return true;
    }

    private void fetch(DatasetManifest.FileEntry entry, Path target) {
        if (!download) {
            throw new DataException(missing(entry, "downloads are off (data.download: false)"));
        }
        try {
            downloader.download(dataset.mirrors(), entry, target);
        } catch (Downloader.Failed e) {
            throw new DataException(missing(entry, "the download failed" + (e.offline() ? " (offline?)" : "") + ": "
                    + e.getMessage()), e);
        }
    }

    /** The "file missing" message: what, where it was looked for, and every way to get it. */
    private String missing(DatasetManifest.FileEntry entry, String why) {
        StringBuilder s = new StringBuilder();
        s.append(name).append(": file ").append(entry.name()).append(" not found in ");
        List<String> dirs = new ArrayList<>();
        for (Path dir : searchPath()) {
            dirs.add(dir.toString());
        }
        s.append(String.join(", ", dirs)).append(", and ").append(why).append(". Ways to get it:");
        int way = 1;
        for (DatasetManifest.Installed installed : dataset.installed()) {
            s.append(" (").append(way++).append(") ").append(installed.install() == null
                    ? "install the package " + installed.packageName() : installed.install())
                    .append(" (puts it in ").append(installed.dir()).append(");");
        }
        List<String> urls = new ArrayList<>();
        for (String mirror : dataset.mirrors()) {
            urls.add((mirror.endsWith("/") ? mirror : mirror + "/") + entry.name());
        }
        if (!urls.isEmpty()) {
            s.append(" (").append(way++).append(") download ").append(String.join(" or ", urls)).append(" into ")
                    .append(cache).append("/ (sha256 ").append(entry.sha256()).append(");");
        }
        s.append(" (").append(way++).append(") run once with internet access and downloads on (data.download: true, "
                + "no --offline): files land in the cache, which ").append(CACHE_ENV)
                .append(" can point at a shared folder;");
        s.append(" (").append(way).append(") set data.path (--path) to a folder that holds the files.");
        return s.toString();
    }

    /**
     * Checks a read idx file against the manifest: the file's own SHA-256 or, for a gzipped file, its content's.
     * A file whose content cannot be checked (an uncompressed copy where the manifest has no content checksum) passes
     * with a warning.
     */
    void verify(String role, IdxFile idx) {
        DatasetManifest.FileEntry entry = dataset.file(role);
        if (entry.sha256() == null && entry.contentSha256() == null) {
            return;
        }
        if (entry.sha256() != null && entry.sha256().equalsIgnoreCase(idx.fileSha256())) {
            return;
        }
        if (entry.contentSha256() != null) {
            if (entry.contentSha256().equalsIgnoreCase(idx.sha256())) {
                return;
            }
            throw new DataException(idx.file() + ": checksum mismatch: expected sha256 " + entry.sha256()
                    + " (or uncompressed content sha256 " + entry.contentSha256() + "), got " + idx.fileSha256()
                    + " (content " + idx.sha256() + "); the file is damaged or not " + name + "'s " + entry.name()
                    + ": delete it so that it is downloaded again, or replace it with the original");
        }
        if (idx.fileSha256().equals(idx.sha256())) {
            log.warn("{}: uncompressed copy of {}; the manifest has only the .gz checksum, so it is not verified",
                    idx.file(), entry.name());
            return;
        }
        throw new DataException(idx.file() + ": checksum mismatch: expected sha256 " + entry.sha256() + ", got "
                + idx.fileSha256() + "; the file is damaged or not " + name + "'s " + entry.name()
                + ": delete it so that it is downloaded again, or replace it with the original");
    }

    Map<String, DatasetManifest.FileEntry> files() {
        return dataset.files();
    }
}
