package org.zoo4j.data;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.zoo4j.base.Configs;
import org.zoo4j.base.InputShape;

/**
 * The known datasets, their files, sizes, checksums and download mirrors, as written in {@code data/datasets.yaml}.
 * URLs and checksums live only there.
 *
 * @param datasets dataset name (as in {@link DataConfig#dataset()}) to its description
 */
public record DatasetManifest(Map<String, Dataset> datasets) {
    /** Where the manifest is on the classpath (the pom copies {@code data/*.yaml} there). */
    public static final String RESOURCE = "zoo4j/data/datasets.yaml";
    /** Where the manifest is in a checkout, relative to its root. */
    public static final String REPO_FILE = "data/datasets.yaml";

    public DatasetManifest {
        datasets = datasets == null ? Map.of() : new TreeMap<>(datasets);
    }

    /**
     * One dataset.
     *
     * @param format    {@code idx} (files train-images, train-labels, test-images, test-labels) or
     *                  {@code cifar10-binary} (file archive)
     * @param title     a line for people
     * @param shape     the images' own shape
     * @param classes   class names by label index
     * @param mirrors   base URLs, tried in order; a file's URL is the base plus its name
     * @param installed system packages that install the files, and where
     * @param files     the files by role
     */
    public record Dataset(String format, String title, InputShape shape, List<String> classes, List<String> mirrors,
                          List<Installed> installed, Map<String, FileEntry> files) {
        public Dataset {
            mirrors = mirrors == null ? List.of() : List.copyOf(mirrors);
            installed = installed == null ? List.of() : List.copyOf(installed);
            files = files == null ? Map.of() : Map.copyOf(files);
            classes = classes == null ? List.of() : List.copyOf(classes);
        }

        FileEntry file(String role) {
            FileEntry f = files.get(role);
            if (f == null) {
                throw new IllegalStateException("dataset manifest: no file with role '" + role + "'");
            }
            return f;
        }
    }

    /**
     * A system package that installs a dataset's files.
     *
     * @param packageName the package
     * @param dir         where it puts the files
     * @param install     the command that installs it
     */
    public record Installed(@JsonProperty("package") String packageName, String dir, String install) {
    }

    /**
     * One file.
     *
     * @param name          file name; also the last part of its URL
     * @param size          bytes as downloaded
     * @param sha256        SHA-256 of the file as downloaded
     * @param contentSha256 SHA-256 of the uncompressed content of a gzipped file, or null
     * @param extract       for an archive, the folder it unpacks to; null otherwise
     * @param members       for an archive, paths inside it (below {@code extract}) and their sizes
     */
    public record FileEntry(String name, long size, String sha256, String contentSha256, String extract,
                            Map<String, Long> members) {
        public FileEntry {
            members = members == null ? Map.of() : new TreeMap<>(members);
        }
    }

    /** The dataset of that name, or an error listing the known ones. */
    public Dataset get(String name) {
        Dataset d = datasets.get(name);
        if (d == null) {
            throw new DataException("unknown dataset '" + name + "'; known: " + String.join(", ", datasets.keySet())
                    + ", or folder:/path for an image folder");
        }
        return d;
    }

    /** The manifest from the classpath, else from {@value #REPO_FILE} under the working directory. */
    public static DatasetManifest load() {
        try (InputStream in = DatasetManifest.class.getClassLoader().getResourceAsStream(RESOURCE)) {
            if (in != null) {
                return Configs.yaml().readValue(in, DatasetManifest.class);
            }
            Path file = Path.of(REPO_FILE);
            if (Files.isRegularFile(file)) {
                return read(file);
            }
        } catch (IOException e) {
            throw new IllegalStateException("dataset manifest " + RESOURCE + " cannot be read: " + e.getMessage(), e);
        }
        throw new IllegalStateException("dataset manifest not found: neither " + RESOURCE + " on the classpath nor "
                + REPO_FILE + " in " + Path.of("").toAbsolutePath() + "; rebuild with mvn package");
    }

    public static DatasetManifest read(Path file) throws IOException {
        return Configs.yaml().readValue(file.toFile(), DatasetManifest.class);
    }

    public static DatasetManifest parse(String yaml) throws IOException {
        return Configs.yaml().readValue(yaml, DatasetManifest.class);
    }
}
