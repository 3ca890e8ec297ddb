package org.zoo4j.data;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.HashSet;
import java.util.List;
import org.zoo4j.base.ConfigException;

/**
 * Which data a model trains on and how it is fed: the {@code data:} section of a training recipe.
 *
 * @param dataset            {@code fashion-mnist}, {@code mnist}, {@code cifar10}, or {@code folder:/path} for an image
 *                           folder with one sub-folder per class (optionally split already into {@code train/},
 *                           {@code test/} and {@code validation/} sub-folders)
 * @param path               directory that holds the dataset's files, used instead of the cache, the Debian package
 *                           location and downloading; null = find or download them (see {@link DatasetFiles})
 * @param validationFraction share of the training images held out for validation, stratified by class (default 0.1)
 * @param testFraction       share held out for testing when the source has no test split of its own (image folders
 *                           without a {@code test/} sub-folder; default 0.1)
 * @param seed               seed for splits, shuffling and augmentation; the same seed gives the same batches
 * @param batchSize          images per batch (default 64)
 * @param augment            augmentation of training images (default none)
 * @param normalization      none, scale or standardize (default standardize)
 * @param prefetch           batches prepared ahead of the trainer (default 8)
 * @param workers            threads that read and augment images; 0 = choose from the CPU count (default 0)
 * @param subset             when set, at most this many images from each of the source's splits (training pool and
 *                           test), chosen stratified and seeded: for quick runs and tests
 * @param download           whether missing files of a known dataset may be downloaded into the cache (default true)
 * @param classes            when set, only images of these classes (indices into the dataset's class list), relabelled
 *                           0, 1, ... in the order given and keeping their names: {@code [5, 6, 7, 8, 9]} trains a
 *                           5-class model on the last five classes; null = all classes
 * @param labelFraction      when set, the share of the training pool (after {@code subset}, {@code classes} and a test
 *                           split taken from it; before the validation split) that is used at all, chosen stratified by class and seeded: 0.01 trains
 *                           on 1% of the labelled images, as in low-label transfer experiments; test images are kept
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record DataConfig(String dataset, String path, double validationFraction, double testFraction, long seed,
                         int batchSize, AugmentConfig augment, NormalizationMode normalization, int prefetch,
                         int workers, Integer subset, boolean download, List<Integer> classes,
                         Double labelFraction) {

    public DataConfig {
        if (dataset == null || dataset.isBlank()) {
            throw new ConfigException("data.dataset: missing; one of fashion-mnist, mnist, cifar10, folder:/path");
        }
        dataset = dataset.trim();
        if (path != null && path.isBlank()) {
            path = null;
        }
        if (!(validationFraction >= 0 && validationFraction < 1)) {
            throw new ConfigException("data.validationFraction: must be in [0, 1), got " + validationFraction);
        }
        if (!(testFraction >= 0 && testFraction < 1) || validationFraction + testFraction >= 1) {
            throw new ConfigException("data.testFraction: must be in [0, 1) and leave training images beside "
                    + "validationFraction, got " + testFraction);
        }
        if (batchSize < 1) {
            throw new ConfigException("data.batchSize: must be at least 1, got " + batchSize);
        }
        if (prefetch < 1) {
            throw new ConfigException("data.prefetch: must be at least 1, got " + prefetch);
        }
        if (workers < 0) {
            throw new ConfigException("data.workers: must be 0 (automatic) or more, got " + workers);
        }
        if (subset != null && subset < 1) {
            throw new ConfigException("data.subset: must be at least 1 when set, got " + subset);
        }
        if (classes != null) {
            if (classes.isEmpty() || classes.stream().anyMatch(c -> c == null || c < 0)
                    || new HashSet<>(classes).size() != classes.size()) {
                throw new ConfigException("data.classes: distinct class indices >= 0, e.g. [5, 6, 7, 8, 9], got "
                        + classes);
            }
            classes = List.copyOf(classes);
        }
        if (labelFraction != null && !(labelFraction > 0 && labelFraction <= 1)) {
            throw new ConfigException("data.labelFraction: must be in (0, 1] when set, got " + labelFraction);
        }
        augment = augment == null ? AugmentConfig.NONE : augment;
        normalization = normalization == null ? NormalizationMode.STANDARDIZE : normalization;
    }

    /** The YAML/JSON form: every field but {@code dataset} may be left out and takes its default. */
    @JsonCreator
    static DataConfig fromMap(@JsonProperty("dataset") String dataset, @JsonProperty("path") String path,
                              @JsonProperty("validationFraction") Double validationFraction,
                              @JsonProperty("testFraction") Double testFraction, @JsonProperty("seed") Long seed,
                              @JsonProperty("batchSize") Integer batchSize,
                              @JsonProperty("augment") AugmentConfig augment,
                              @JsonProperty("normalization") NormalizationMode normalization,
                              @JsonProperty("prefetch") Integer prefetch, @JsonProperty("workers") Integer workers,
                              @JsonProperty("subset") Integer subset, @JsonProperty("download") Boolean download,
                              @JsonProperty("classes") List<Integer> classes,
                              @JsonProperty("labelFraction") Double labelFraction) {
        return new DataConfig(dataset, path, validationFraction == null ? 0.1 : validationFraction,
                testFraction == null ? 0.1 : testFraction, seed == null ? 42 : seed, batchSize == null ? 64 : batchSize,
                augment, normalization, prefetch == null ? 8 : prefetch, workers == null ? 0 : workers, subset,
                download == null || download, classes, labelFraction);
    }

    /** The defaults for a dataset. */
    public static DataConfig of(String dataset) {
        return fromMap(dataset, null, null, null, null, null, null, null, null, null, null, null, null, null);
    }

    public DataConfig withPath(String p) {
        return new DataConfig(dataset, p, validationFraction, testFraction, seed, batchSize, augment, normalization,
                prefetch, workers, subset, download, classes, labelFraction);
    }

    public DataConfig withSeed(long s) {
        return new DataConfig(dataset, path, validationFraction, testFraction, s, batchSize, augment, normalization,
                prefetch, workers, subset, download, classes, labelFraction);
    }

    public DataConfig withBatchSize(int b) {
        return new DataConfig(dataset, path, validationFraction, testFraction, seed, b, augment, normalization,
                prefetch, workers, subset, download, classes, labelFraction);
    }

    public DataConfig withAugment(AugmentConfig a) {
        return new DataConfig(dataset, path, validationFraction, testFraction, seed, batchSize, a, normalization,
                prefetch, workers, subset, download, classes, labelFraction);
    }

    public DataConfig withNormalization(NormalizationMode n) {
        return new DataConfig(dataset, path, validationFraction, testFraction, seed, batchSize, augment, n,
                prefetch, workers, subset, download, classes, labelFraction);
    }

    public DataConfig withSubset(Integer s) {
        return new DataConfig(dataset, path, validationFraction, testFraction, seed, batchSize, augment, normalization,
                prefetch, workers, s, download, classes, labelFraction);
    }

    public DataConfig withWorkers(int w) {
        return new DataConfig(dataset, path, validationFraction, testFraction, seed, batchSize, augment, normalization,
                prefetch, w, subset, download, classes, labelFraction);
    }

    public DataConfig withFractions(double validation, double test) {
        return new DataConfig(dataset, path, validation, test, seed, batchSize, augment, normalization,
                prefetch, workers, subset, download, classes, labelFraction);
    }

    public DataConfig withDownload(boolean d) {
        return new DataConfig(dataset, path, validationFraction, testFraction, seed, batchSize, augment, normalization,
                prefetch, workers, subset, d, classes, labelFraction);
    }

    public DataConfig withClasses(List<Integer> c) {
        return new DataConfig(dataset, path, validationFraction, testFraction, seed, batchSize, augment, normalization,
                prefetch, workers, subset, download, c, labelFraction);
    }

    public DataConfig withLabelFraction(Double f) {
        return new DataConfig(dataset, path, validationFraction, testFraction, seed, batchSize, augment, normalization,
                prefetch, workers, subset, download, classes, f);
    }

    /** The worker thread count to use: {@link #workers} or, when 0, one per core beyond the first, 1 to 4. */
    public int effectiveWorkers() {
        return workers > 0 ? workers : Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors() - 1));
    }
}
