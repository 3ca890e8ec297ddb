package org.zoo4j.data;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.datavec.api.io.labels.ParentPathLabelGenerator;
import org.datavec.api.writable.NDArrayWritable;
import org.datavec.api.writable.Writable;
import org.datavec.image.recordreader.ImageRecordReader;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zoo4j.base.InputShape;

/**
 * Images in a folder with one sub-folder per class (PNG, JPEG, BMP), read through DataVec's {@link ImageRecordReader}
 * with a {@link ParentPathLabelGenerator}: decoded, converted to the requested channels and resized by DataVec (OpenCV)
 * on each read. A file that cannot be decoded is reported as unreadable, with a warning the first time.
 *
 * @param name    the folder, for messages
 * @param classes class names (sub-folder names), sorted
 * @param files   the image files
 * @param labels  class index of each file
 * @param bad     files found unreadable (warned about once), shared by the splits of one pipeline
 */
record ImageFolder(String name, List<String> classes, List<Path> files, int[] labels, Set<Path> bad)
        implements ImageSource {
    private static final Logger log = LoggerFactory.getLogger(ImageFolder.class);
    /** File name endings read as images; other files (notes, .DS_Store) are ignored. */
    static final List<String> EXTENSIONS = List.of(".png", ".jpg", ".jpeg", ".bmp");
    /** One DataVec reader per worker thread and shape: readers are not thread-safe. */
    private static final ThreadLocal<Map<InputShape, ImageRecordReader>> READERS = ThreadLocal.withInitial(HashMap::new);

    ImageFolder {
        if (files.size() != labels.length) {
            throw new IllegalArgumentException(files.size() + " files but " + labels.length + " labels");
        }
    }

    /**
     * Lists {@code dir}: one sub-folder per class. {@code classes} null means "the sub-folders found"; otherwise the
     * class list that every sub-folder must belong to.
     */
    static ImageFolder scan(Path dir, List<String> classes, Set<Path> bad) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new DataException(dir + ": no such folder; expected a folder with one sub-folder of images per class");
        }
        List<Path> classDirs;
        try (Stream<Path> entries = Files.list(dir)) {
            classDirs = entries.filter(Files::isDirectory).filter(p -> !p.getFileName().toString().startsWith("."))
                    .sorted().toList();
        }
        if (classDirs.isEmpty()) {
            throw new DataException(dir + ": has no class sub-folders; expected one sub-folder of images (PNG, JPEG, "
                    + "BMP) per class, e.g. " + dir.resolve("cat") + "/1.png");
        }
        List<String> found = classDirs.stream().map(p -> p.getFileName().toString()).toList();
        List<String> names = classes == null ? found : classes;
        for (String c : found) {
            if (!names.contains(c)) {
                throw new DataException(dir.resolve(c) + ": class '" + c + "' is not in the class list " + names
                        + " (taken from the training folder); rename or remove it, or add the class to the training data");
            }
        }
        List<Path> files = new ArrayList<>();
        List<Integer> labels = new ArrayList<>();
        for (Path classDir : classDirs) {
            List<Path> images;
            try (Stream<Path> entries = Files.walk(classDir)) {
                images = entries.filter(Files::isRegularFile).filter(ImageFolder::isImage).sorted().toList();
            }
            if (images.isEmpty()) {
                throw new DataException(classDir + ": class folder has no images (" + String.join(", ", EXTENSIONS)
                        + "); add images or remove the folder");
            }
            int label = names.indexOf(classDir.getFileName().toString());
            for (Path image : images) {
                files.add(image);
                labels.add(label);
            }
        }
        return new ImageFolder(dir.toString(), List.copyOf(names), List.copyOf(files),
                labels.stream().mapToInt(Integer::intValue).toArray(), bad);
    }

    static boolean isImage(Path file) {
        String n = file.getFileName().toString().toLowerCase(Locale.ROOT);
        return !n.startsWith(".") && EXTENSIONS.stream().anyMatch(n::endsWith);
    }

    /** The images at these indices (a split of this folder). */
    ImageFolder select(int[] indices) {
        List<Path> f = new ArrayList<>(indices.length);
        int[] l = new int[indices.length];
        for (int i = 0; i < indices.length; i++) {
            f.add(files.get(indices[i]));
            l[i] = labels[indices[i]];
        }
        return new ImageFolder(name, classes, List.copyOf(f), l, bad);
    }

    @Override
    public int size() {
        return files.size();
    }

    @Override
    public int label(int index) {
        return labels[index];
    }

    @Override
    public String describe(int index) {
        return files.get(index).toString();
    }

    @Override
    public boolean read(int index, InputShape shape, float[] dst, int offset) {
        Path file = files.get(index);
        if (bad.contains(file)) {
            return false;
        }
        try {
            ImageDecoding.PngHeader png = ImageDecoding.pngHeader(file);
            if (png != null && png.needsOwnDecoder()) {
                ImageDecoding.decodeWithJdk(file, shape, dst, offset);
            } else {
                INDArray image = decode(file, shape, classes);
                ImageFiles.bgrToRgb(image.data().asFloat(), shape, dst, offset);
            }
            return true;
        } catch (Exception | LinkageError e) {
            if (bad.add(file)) {
                // A decode failure of OpenCV falls back to Leptonica, which is not installed: a LinkageError here
                // means "not a decodable image" too.
                String why = e instanceof LinkageError || e.getMessage() == null ? "not a decodable image" : e.getMessage();
                log.warn("skipping unreadable image {} ({}); the count of skipped images is in the epoch's log line "
                        + "and results.json", file, why);
            }
            return false;
        }
    }

    /** Decodes one file through this thread's DataVec reader as a [1, C, H, W] array of 0-255 values (BGR order). */
    static INDArray decode(Path file, InputShape shape, List<String> classes) throws IOException {
        ImageRecordReader reader = READERS.get().computeIfAbsent(shape, s -> {
            ImageRecordReader r = new ImageRecordReader(s.height(), s.width(), s.channels(), new ParentPathLabelGenerator());
            r.setLabels(new ArrayList<>(classes));
            return r;
        });
        reader.setLabels(new ArrayList<>(classes));
        List<Writable> record;
        try (InputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(file), 1 << 16))) {
            record = reader.record(file.toUri(), (DataInputStream) in);
        }
        INDArray image = ((NDArrayWritable) record.get(0)).get();
        long expected = (long) shape.channels() * shape.height() * shape.width();
        if (image.length() != expected) {
            throw new IOException("decoded to shape " + Arrays.toString(image.shape()) + ", expected "
                    + shape);
        }
        return image;
    }
}
