package org.zoo4j.spark;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.nd4j.common.loader.Source;
import org.nd4j.linalg.dataset.DataSet;
import org.zoo4j.data.DataException;

/**
 * Loads a batch the driver exported ({@code spark.data: export}) from a folder every worker can read: a plain file
 * path, read with java.nio (no Hadoop filesystem in between).
 */
final class ExportedBatches extends EpochLoader {
    private static final long serialVersionUID = 1L;

    @Override
    DataSet loadBatch(Source source) {
        Path file = Path.of(source.getPath().replaceFirst("^file:", ""));
        if (!Files.isReadable(file)) {
            throw new DataException("spark.exportDirectory: this executor cannot read " + file + "; give a folder every "
                    + "worker can read (a shared filesystem)");
        }
        DataSet ds = new DataSet();
        try (InputStream in = Files.newInputStream(file)) {
            ds.load(in);
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": " + e.getMessage(), e);
        }
        return ds;
    }
}
