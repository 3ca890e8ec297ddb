package org.zoo4j.training;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/** PNG plots of a run. */
public final class Plots {
    private Plots() {
    }

    static void writeAll(Path runDir, List<EpochMetrics> history, Evaluation test) throws IOException {
    }

    /** Draws a confusion matrix as a PNG. */
    public static void confusion(Path png, Evaluation e, String title) throws IOException {
    }
}
