package org.zoo4j.transfer;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.zoo4j.base.AtomicFiles;
import org.zoo4j.base.Checksums;
import org.zoo4j.base.ConfigException;
import org.zoo4j.data.DataException;
import org.zoo4j.data.DatasetManifest;
import org.zoo4j.data.Downloader;
import org.zoo4j.zoo.WeightsManifest;

/**
 * Downloaded weight files, and the zoo's own shipped ones copied out of the jar: {@code <cache>/<weights name>/<file>}, fetched with the data package's {@link Downloader}
 * (mirrors, progress bar, size and full SHA-256 checks, atomic rename). Where the manifest knows only a SHA-256 prefix
 * (torchvision's file names), the file lands in a staging folder first and is moved into place only once the prefix
 * matches, so the cache never holds a file that failed a check.
 *
 * <p>The cache folder is the system property {@value #CACHE_PROPERTY}, else the environment variable
 * {@value #CACHE_ENV}, else {@code ~/.zoo4j/weights}.
 */
public final class WeightsCache {
    public static final String CACHE_PROPERTY = "zoo4j.weights";
    public static final String CACHE_ENV = "ZOO4J_WEIGHTS";
    /** Where the weight sets that ship with the zoo are on the classpath. */
    public static final String SHIPPED = "zoo4j/zoo/weights/";

    private final Path root;
    private final PrintStream progress;

    /** @param progress where the progress bar and notes go, or null for none */
    public WeightsCache(Path root, PrintStream progress) {
        this.root = root;
        this.progress = progress;
    }

    public static Path defaultRoot() {
        String dir = System.getProperty(CACHE_PROPERTY);
        if (dir == null || dir.isBlank()) {
            dir = System.getenv(CACHE_ENV);
        }
        return dir == null || dir.isBlank() ? Path.of(System.getProperty("user.home"), ".zoo4j", "weights") : Path.of(dir);
    }

    /** Where the entry's file is (or will be) in this cache. */
    public Path path(String name, WeightsManifest.Entry entry) {
        return root.resolve(name).resolve(entry.file());
    }

    /**
     * The entry's file, downloaded and checked if it is not already in the cache (a cached file is checked again).
     *
     * @param allowUnverified download an entry the manifest has no digest for (the digest got is reported)
     */
    public Path pull(String name, WeightsManifest.Entry entry, boolean allowUnverified) throws IOException {
        if (!entry.verifiable() && !allowUnverified) {
            throw new ConfigException(name + " has no published checksum in the weights manifest, so its "
                    + "download cannot be verified; pass --allow-unverified to fetch it anyway");
        }
        Path target = path(name, entry);
        if (Files.isRegularFile(target)) {
            String sha = Checksums.sha256(target);
            if (matches(entry, sha)) {
                note(name + ": already in the cache, " + (entry.verifiable() ? entry.verification() + " verified" : "sha256 " + sha));
                return target;
            }
            note(name + ": cached file " + target + " has sha256 " + sha + ", expected " + entry.verification()
                    + "; downloading again");
        }
        Path staging = target.resolveSibling(".staging");
        Files.createDirectories(staging);
        Path fetched = staging.resolve(entry.file());
        try {
            if (entry.format() == WeightsManifest.Format.ZOO4J && entry.mirrors().isEmpty()) {
                copyShipped(entry, fetched);
            } else {
                new Downloader(progress).download(entry.mirrors(), new DatasetManifest.FileEntry(entry.file(),
                        entry.size(), entry.sha256(), null, null, null), fetched);
            }
            String sha = Checksums.sha256(fetched);
            if (!matches(entry, sha)) {
                throw new DataException(name + ": downloaded file has sha256 " + sha + ", expected "
                        + entry.verification() + "; not kept");
            }
            AtomicFiles.move(fetched, target);
            note(name + ": " + target + (entry.verifiable() ? " (" + entry.verification() + " verified)"
                    : " (UNVERIFIED; its sha256 is " + sha + ")"));
            return target;
        } finally {
            Files.deleteIfExists(fetched);
            try {
                Files.deleteIfExists(staging);
            } catch (DirectoryNotEmptyException e) {
                // another pull of the same entry is under way; leave its folder
            }
        }
    }

    /** A set that ships with the zoo, from the classpath ({@value #SHIPPED}), where the pom puts zoo/weights/. */
    private static void copyShipped(WeightsManifest.Entry entry, Path to) throws IOException {
        try (InputStream in = WeightsCache.class.getClassLoader().getResourceAsStream(SHIPPED + entry.file())) {
            if (in == null) {
                throw new IllegalStateException(SHIPPED + entry.file() + " is not on the classpath: the build did not "
                        + "package zoo/weights/ (a build from a checkout without the file?)");
            }
            Files.copy(in, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private static boolean matches(WeightsManifest.Entry entry, String sha) {
        if (entry.sha256() != null) {
            return entry.sha256().equalsIgnoreCase(sha);
        }
        return entry.sha256Prefix() == null || sha.toLowerCase().startsWith(entry.sha256Prefix().toLowerCase());
    }

    private void note(String line) {
        if (progress != null) {
            progress.println(line);
        }
    }
}
