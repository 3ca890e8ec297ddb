package org.zoo4j.data;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JacksonException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Enumeration;
import java.util.Optional;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.DataSet;
import org.nd4j.linalg.dataset.api.DataSetPreProcessor;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.zoo4j.base.AtomicFiles;
import org.zoo4j.base.Configs;
import org.zoo4j.base.ZipEntries;

/**
 * A fitted input normaliser: pixel values 0 to 255 are divided by 255 and, for {@link NormalizationMode#STANDARDIZE},
 * shifted and scaled per channel by the training split's mean and standard deviation (of the [0, 1] values).
 *
 * <p>Stored as JSON or YAML (never with Java serialisation), on its own or as the entry {@value #MODEL_ENTRY} inside a
 * saved model's zip, so that evaluation and prediction apply exactly what training used. Works on NCHW (or CHW)
 * arrays and as a DL4J {@link DataSetPreProcessor}.
 *
 * @param mode how values are normalised
 * @param mean per-channel mean of the [0, 1] values (empty unless mode is standardize)
 * @param std  per-channel standard deviation of the [0, 1] values (empty unless mode is standardize)
 */
public record Normalization(NormalizationMode mode, double[] mean, double[] std) implements DataSetPreProcessor {
    /** Name of the entry that holds the normaliser inside a model zip. */
    public static final String MODEL_ENTRY = "zoo4j/normalization.json";
    /** A channel whose std is below this is only centred, not scaled (a constant channel would divide by ~0). */
    private static final double MIN_STD = 1e-6;

    @JsonCreator
    public Normalization(@JsonProperty("mode") NormalizationMode mode, @JsonProperty("mean") double[] mean,
                         @JsonProperty("std") double[] std) {
        this.mode = mode == null ? NormalizationMode.SCALE : mode;
        this.mean = mean == null ? new double[0] : mean.clone();
        this.std = std == null ? new double[0] : std.clone();
        if (this.mean.length != this.std.length) {
            throw new DataException("normalization: mean has " + this.mean.length + " channels but std has "
                    + this.std.length);
        }
        if (this.mode == NormalizationMode.STANDARDIZE && this.mean.length == 0) {
            throw new DataException("normalization: standardize needs a mean and std per channel");
        }
        for (double s : this.std) {
            if (!(s >= 0) || Double.isInfinite(s)) {
                throw new DataException("normalization: std must be finite and >= 0, got " + s);
            }
        }
    }

    public static Normalization none() {
        return new Normalization(NormalizationMode.NONE, null, null);
    }

    public static Normalization scale() {
        return new Normalization(NormalizationMode.SCALE, null, null);
    }

    public static Normalization standardize(double[] mean, double[] std) {
        return new Normalization(NormalizationMode.STANDARDIZE, mean, std);
    }

    @Override
    public double[] mean() {
        return mean.clone();
    }

    @Override
    public double[] std() {
        return std.clone();
    }

    /** Number of channels this normaliser was fitted for; 0 when it works on any. */
    @JsonIgnore
    public int channels() {
        return mean.length;
    }

    /** Normalises pixel values (0 to 255) of NCHW or CHW features in place and returns them. */
    public INDArray apply(INDArray features) {
        switch (mode) {
            case NONE -> {
                return features;
            }
            case SCALE -> {
                return features.muli(1.0 / 255);
            }
            default -> {
                int channelAxis = features.rank() == 4 ? 1 : features.rank() == 3 ? 0 : -1;
                if (channelAxis < 0 || features.size(channelAxis) != mean.length) {
                    throw new DataException("normalization: fitted for " + mean.length
                            + " channels, got features of shape " + Arrays.toString(features.shape())
                            + " (expected NCHW or CHW)");
                }
                features.muli(1.0 / 255);
                for (int c = 0; c < mean.length; c++) {
                    INDArray channel = channelAxis == 1
                            ? features.get(NDArrayIndex.all(), NDArrayIndex.point(c), NDArrayIndex.all(), NDArrayIndex.all())
                            : features.get(NDArrayIndex.point(c), NDArrayIndex.all(), NDArrayIndex.all());
                    channel.subi(mean[c]);
                    if (std[c] > MIN_STD) {
                        channel.divi(std[c]);
                    }
                }
                return features;
            }
        }
    }

    /** Normalises {@code count} CHW images stored one after another in {@code data} from {@code offset}, in place. */
    void apply(float[] data, int offset, int count, int channels, int plane) {
        if (mode == NormalizationMode.NONE) {
            return;
        }
        if (mode == NormalizationMode.STANDARDIZE && channels != mean.length) {
            throw new DataException("normalization: fitted for " + mean.length + " channels, got " + channels);
        }
        for (int c = 0; c < channels; c++) {
            float mul;
            float add;
            if (mode == NormalizationMode.SCALE) {
                mul = 1f / 255;
                add = 0;
            } else {
                double s = std[c] > MIN_STD ? std[c] : 1;
                mul = (float) (1 / (255 * s));
                add = (float) (-mean[c] / s);
            }
            for (int n = 0; n < count; n++) {
                int start = offset + (n * channels + c) * plane;
                for (int i = start, end = start + plane; i < end; i++) {
                    data[i] = data[i] * mul + add;
                }
            }
        }
    }

    /** As a DL4J pre-processor: normalises the data set's features in place. */
    @Override
    public void preProcess(DataSet dataSet) {
        apply(dataSet.getFeatures());
    }

    public String toJson() {
        try {
            return Configs.json().writer().writeValueAsString(this);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static Normalization fromJson(String json) {
        try {
            return Configs.json().readValue(json, Normalization.class);
        } catch (IOException e) {
            throw new DataException("normalization: not a valid normaliser: " + e.getMessage(), e);
        }
    }

    /** Writes the normaliser as JSON (or YAML for a .yaml/.yml name), atomically. */
    public void write(Path file) throws IOException {
        String name = file.getFileName().toString();
        String text = name.endsWith(".yaml") || name.endsWith(".yml")
                ? Configs.yaml().writeValueAsString(this) : toJson();
        AtomicFiles.write(file, text.getBytes(StandardCharsets.UTF_8));
    }

    /** Reads a normaliser written by {@link #write}. */
    public static Normalization read(Path file) throws IOException {
        String name = file.getFileName().toString();
        try {
            return (name.endsWith(".yaml") || name.endsWith(".yml") ? Configs.yaml() : Configs.json())
                    .readValue(file.toFile(), Normalization.class);
        } catch (JacksonException e) {
            throw new DataException(file + ": not a valid normaliser: " + e.getOriginalMessage());
        }
    }

    /**
     * Adds (or replaces) this normaliser as the entry {@value #MODEL_ENTRY} of a model zip, such as one written by
     * DL4J's ModelSerializer. The zip is rewritten beside the original and renamed over it, so a failure leaves the
     * original as it was.
     */
    public void writeInto(Path modelZip) throws IOException {
        byte[] json = toJson().getBytes(StandardCharsets.UTF_8);
        AtomicFiles.write(modelZip, out -> {
            try (ZipFile in = new ZipFile(modelZip.toFile()); ZipOutputStream zip = new ZipOutputStream(out)) {
                for (Enumeration<? extends ZipEntry> entries = in.entries(); entries.hasMoreElements(); ) {
                    ZipEntry entry = entries.nextElement();
                    if (entry.getName().equals(MODEL_ENTRY)) {
                        continue;
                    }
                    ZipEntries.copy(in, entry, zip);
                }
                zip.putNextEntry(new ZipEntry(MODEL_ENTRY));
                zip.write(json);
                zip.closeEntry();
                zip.finish();
            }
        });
    }

    /** The normaliser stored in a model zip by {@link #writeInto}, if there is one. */
    public static Optional<Normalization> readFrom(Path modelZip) throws IOException {
        try (ZipFile zip = new ZipFile(modelZip.toFile())) {
            ZipEntry entry = zip.getEntry(MODEL_ENTRY);
            if (entry == null) {
                return Optional.empty();
            }
            try (InputStream in = zip.getInputStream(entry)) {
                return Optional.of(fromJson(new String(in.readAllBytes(), StandardCharsets.UTF_8)));
            }
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Normalization n && n.mode == mode && Arrays.equals(n.mean, mean) && Arrays.equals(n.std, std);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * mode.hashCode() + Arrays.hashCode(mean)) + Arrays.hashCode(std);
    }

    @Override
    public String toString() {
        return mode == NormalizationMode.STANDARDIZE
                ? "standardize(mean=" + Arrays.toString(mean) + ", std=" + Arrays.toString(std) + ")"
                : mode.toString();
    }
}
