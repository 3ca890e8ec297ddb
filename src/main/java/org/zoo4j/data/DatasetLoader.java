package org.zoo4j.data;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.zoo4j.base.InputShape;

/** Reads a dataset named by a {@link DataConfig} into image sources: idx, CIFAR-10 binary, or an image folder. */
final class DatasetLoader {
    /** The prefix of an image folder dataset name. */
    static final String FOLDER = "folder:";

    private DatasetLoader() {
    }

    /**
     * A read dataset. {@code test} and {@code validation} are null when the source has none of its own (they are then
     * split off the training pool).
     */
    record Loaded(String name, List<String> classes, ImageSource trainPool, ImageSource test,
                  ImageSource validation, Set<Path> unreadable) {
    }

    static Loaded load(DataConfig config, DatasetManifest manifest, PrintStream progress) {
        try {
            if (config.dataset().startsWith(FOLDER)) {
                String dir = config.dataset().substring(FOLDER.length()).trim();
                if (dir.isEmpty()) {
                    throw new DataException("data.dataset: folder: needs a path, e.g. folder:/data/flowers");
                }
                return folder(Path.of(dir));
            }
            DatasetManifest.Dataset dataset = manifest.get(config.dataset());
            DatasetFiles files = new DatasetFiles(config.dataset(), dataset,
                    config.path() == null ? null : Path.of(config.path()), DatasetFiles.cacheRoot(), config.download(),
                    progress);
            return switch (dataset.format()) {
                case "idx" -> idx(config.dataset(), dataset, files);
                case "cifar10-binary" -> cifar(config.dataset(), dataset, files);
                default -> throw new IllegalStateException("dataset manifest: unknown format " + dataset.format());
            };
        } catch (IOException e) {
            throw new UncheckedIOException(e.getMessage(), e);
        }
    }

    private static Loaded idx(String name, DatasetManifest.Dataset dataset, DatasetFiles files) throws IOException {
        ImageArray train = idxPair(name + " train", dataset, files, "train-images", "train-labels");
        ImageArray test = idxPair(name + " test", dataset, files, "test-images", "test-labels");
        if (!train.shape().equals(test.shape())) {
            throw new DataException(name + ": training images are " + train.shape() + " but test images are "
                    + test.shape());
        }
        return new Loaded(name, dataset.classes(), train, test, null, Set.of());
    }

    private static ImageArray idxPair(String name, DatasetManifest.Dataset dataset, DatasetFiles files,
                                      String imagesRole, String labelsRole) throws IOException {
        IdxFile images = IdxFile.read(files.file(imagesRole));
        files.verify(imagesRole, images);
        IdxFile labels = IdxFile.read(files.file(labelsRole));
        files.verify(labelsRole, labels);
        return fromIdx(name, images, labels, dataset.classes());
    }

    /** Pairs an idx image file (N x H x W) with its label file (N), checking counts and label range. */
    static ImageArray fromIdx(String name, IdxFile images, IdxFile labels, List<String> classes) {
        if (images.dims().length != 3) {
            throw new DataException(images.file() + ": expected images of shape count x height x width, got dimensions "
                    + Arrays.toString(images.dims()));
        }
        if (labels.dims().length != 1) {
            throw new DataException(labels.file() + ": expected one label per image (1 dimension), got dimensions "
                    + Arrays.toString(labels.dims()));
        }
        int n = images.dims()[0];
        if (labels.dims()[0] != n) {
            throw new DataException("image/label count mismatch: " + images.file() + " has " + n + " images but "
                    + labels.file() + " has " + labels.dims()[0] + " labels; both must come from the same download");
        }
        int[] l = new int[n];
        byte[] raw = labels.data();
        for (int i = 0; i < n; i++) {
            l[i] = raw[i] & 0xFF;
            if (l[i] >= classes.size()) {
                throw new DataException(labels.file() + ": label " + l[i] + " of image " + i + " is outside the class list ("
                        + classes.size() + " classes, 0 to " + (classes.size() - 1) + "); the file is corrupt or of "
                        + "another dataset");
            }
        }
        return new ImageArray(name, InputShape.of(1, images.dims()[1], images.dims()[2]), images.data(), l);
    }

    private static Loaded cifar(String name, DatasetManifest.Dataset dataset, DatasetFiles files) throws IOException {
        Path dir = files.unpacked("archive");
        List<Path> trainFiles;
        try (Stream<Path> list = Files.list(dir)) {
            trainFiles = list.filter(p -> p.getFileName().toString().matches("data_batch_\\d+\\.bin")).sorted().toList();
        }
        Path testFile = dir.resolve("test_batch.bin");
        if (trainFiles.isEmpty() || !Files.isRegularFile(testFile)) {
            throw new DataException(dir + ": expected CIFAR-10 binary batches data_batch_1.bin ... and test_batch.bin");
        }
        ImageArray train = CifarBinary.read(name + " train", trainFiles, dataset.classes().size());
        ImageArray test = CifarBinary.read(name + " test", List.of(testFile), dataset.classes().size());
        return new Loaded(name, dataset.classes(), train, test, null, Set.of());
    }

    /**
     * An image folder: either {@code train/} (with optional {@code test/} and {@code validation/} or {@code val/})
     * each holding class sub-folders, or class sub-folders directly.
     */
    static Loaded folder(Path root) throws IOException {
        Set<Path> unreadable = ConcurrentHashMap.newKeySet();
        Path trainDir = root.resolve("train");
        String name = root.toString();
        if (Files.isDirectory(trainDir)) {
            ImageFolder train = ImageFolder.scan(trainDir, null, unreadable);
            ImageFolder test = Files.isDirectory(root.resolve("test"))
                    ? ImageFolder.scan(root.resolve("test"), train.classes(), unreadable) : null;
            Path validationDir = Files.isDirectory(root.resolve("validation")) ? root.resolve("validation")
                    : Files.isDirectory(root.resolve("val")) ? root.resolve("val") : null;
            ImageFolder validation = validationDir == null ? null
                    : ImageFolder.scan(validationDir, train.classes(), unreadable);
            return new Loaded(name, train.classes(), train, test, validation, unreadable);
        }
        ImageFolder all = ImageFolder.scan(root, null, unreadable);
        return new Loaded(name, all.classes(), all, null, null, unreadable);
    }

    static List<String> knownNames(DatasetManifest manifest) {
        List<String> names = new ArrayList<>(manifest.datasets().keySet());
        names.add(FOLDER + "/path");
        return names;
    }
}
