package org.zoo4j.training;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.zoo4j.base.AtomicFiles;
import org.zoo4j.base.Configs;
import org.zoo4j.modelfile.EpochMetrics;
import org.zoo4j.modelfile.ModelFile;
import org.zoo4j.modelfile.TrainingState;

/**
 * A run directory and the files the training loop keeps in it:
 * <pre>
 *   metrics.csv    one line per epoch
 *   last.zip       checkpoint after every epoch (and on Ctrl-C), with optimiser state: what a resumed run reads
 *   best.zip       the model with the best validation metric so far
 *   results.json   test metrics of the best model, when the run ends
 *   train.log      what the run printed, time-stamped
 *   *.png          loss, accuracy and confusion-matrix plots
 * </pre>
 * A recipe run adds its {@code recipe.yaml} ({@link Trainer}). Every file is replaced atomically.
 */
public final class RunDirectory {
    public static final String METRICS = "metrics.csv";
    public static final String LAST = "last.zip";
    public static final String BEST = "best.zip";
    public static final String RESULTS = "results.json";
    public static final String LOG = "train.log";

    private final Path dir;
    private final PrintStream console;

    /** @param console where the log lines go besides {@value #LOG} */
    public RunDirectory(Path dir, PrintStream console) {
        this.dir = dir;
        this.console = console;
    }

    public Path path() {
        return dir;
    }

    public Path last() {
        return dir.resolve(LAST);
    }

    public Path best() {
        return dir.resolve(BEST);
    }

    /** The model a finished run reports on: the best one, or the last where no epoch was validated as best. */
    public Path bestOrLast() {
        return Files.exists(best()) ? best() : last();
    }

    public PrintStream console() {
        return console;
    }

    /** Prints {@code line} and appends it, time-stamped, to {@value #LOG}. */
    public void log(String line) {
        console.println(line);
        String stamped = LocalDateTime.now().format(DateTimeFormatter.ISO_LOCAL_DATE_TIME) + " " + line + "\n";
        try {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve(LOG), stamped, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND);
        } catch (IOException e) {
            console.println("(could not write " + LOG + ": " + e.getMessage() + ")");
        }
    }

    public void writeMetrics(List<EpochMetrics> history) throws IOException {
        AtomicFiles.writeString(dir.resolve(METRICS), EpochMetrics.csv(history));
    }

    public void writeResults(String json) throws IOException {
        AtomicFiles.writeString(dir.resolve(RESULTS), json);
    }

    /**
     * Records how a run ended: results.json (status, epochs, best epoch, test metrics and confusion matrix where the
     * best model was tested), the same metrics inside the best and last model files, the plots, and a log line, which
     * it returns.
     */
    public String finish(TrainingLoop.Status status, TrainingState state, EvaluationReport tested) throws IOException {
        Path best = bestOrLast();
        Map<String, Object> metrics = new LinkedHashMap<>();
        metrics.put("status", status.name().toLowerCase(Locale.ROOT));
        metrics.put("epochs", state.epochsDone());
        metrics.put("bestEpoch", state.bestEpoch());
        if (tested != null) {
            metrics.put("testImages", tested.count());
            metrics.put("testAccuracy", tested.accuracy());
            if (!Double.isNaN(tested.top5())) {
                metrics.put("testTop5", tested.top5());
            }
            metrics.put("testLoss", tested.loss());
        }
        metrics.put("trainSeconds", state.history().stream().mapToDouble(EpochMetrics::seconds).sum());
        if (tested != null) {
            metrics.put("confusion", tested.confusion());
        }
        String json = Configs.toJson(metrics);
        ModelFile.putEntries(best, Map.of(ModelFile.METRICS, json));
        if (!best.equals(last())) {
            ModelFile.putEntries(last(), Map.of(ModelFile.METRICS, json));
        }
        writeResults(json);
        drawPlots(state.history(), tested);
        String message = tested == null
                ? String.format(Locale.ROOT, "finished: best epoch %d of %d (%s model); run in %s", state.bestEpoch(),
                state.epochsDone(), best.getFileName(), dir)
                : String.format(Locale.ROOT, "test accuracy %.2f%%%s (best epoch %d of %d, %s model); run in %s",
                100 * tested.accuracy(), Double.isNaN(tested.top5()) ? "" : String.format(Locale.ROOT,
                        ", top-5 %.2f%%", 100 * tested.top5()), state.bestEpoch(), state.epochsDone(),
                best.getFileName(), dir);
        log(message);
        return message;
    }

    /** The loss, accuracy and (with a test report) confusion plots; a failure to draw is logged, not thrown. */
    public void drawPlots(List<EpochMetrics> history, EvaluationReport test) {
        try {
            Plots.writeAll(dir, history, test);
        } catch (RuntimeException | IOException e) {
            log("could not draw the plots: " + e);
        }
    }
}
