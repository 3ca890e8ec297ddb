package org.zoo4j.training;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.zoo4j.base.AtomicFiles;
import org.zoo4j.base.Configs;
import org.zoo4j.base.FaultInjection;
import org.zoo4j.base.Provenance;
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
 *   run.json       how the run was started and each time it was resumed: command, code, machine, time
 *   *.png          loss, accuracy and confusion-matrix plots
 * </pre>
 * A recipe run adds its {@code recipe.yaml} ({@link Trainer}). Every file is replaced atomically.
 *
 * <p>An epoch's files change together ({@link #commit}): the checkpoint, the best model when the epoch improved on
 * it, metrics.csv and the epoch's log line are first written into {@value #PENDING}/, then a commit record is written
 * there, and only then are they moved into place. A kill before the commit record leaves the previous epoch's files,
 * and the staged ones are discarded; a kill after it leaves a commit that {@link #recover} completes. So last.zip's
 * state (which epoch is best) always describes the best.zip, metrics.csv and train.log beside it.
 */
public final class RunDirectory {
    public static final String METRICS = "metrics.csv";
    public static final String LAST = "last.zip";
    public static final String BEST = "best.zip";
    public static final String RESULTS = "results.json";
    public static final String LOG = "train.log";
    public static final String PROVENANCE = "run.json";
    /** Where an epoch's files wait until they are committed. */
    static final String PENDING = ".pending";
    private static final String COMMIT = "COMMIT";

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

    /**
     * Puts the run directory in a consistent state after a kill: completes an epoch whose commit record was written,
     * discards one whose record was not, and removes temporary files of interrupted atomic writes.
     */
    public void recover() throws IOException {
        Path pending = dir.resolve(PENDING);
        if (Files.isRegularFile(pending.resolve(COMMIT))) {
            rollForward(Configs.fromJson(Files.readString(pending.resolve(COMMIT)), Commit.class));
        }
        AtomicFiles.deleteTree(pending);
        if (Files.isDirectory(dir)) {
            try (var files = Files.list(dir)) {
                for (Path f : files.toList()) {
                    String name = f.getFileName().toString();
                    if (name.startsWith(".") && name.endsWith(".part") && Files.isRegularFile(f)) {
                        Files.delete(f); // an atomic write that a kill interrupted: never renamed, never read
                    }
                }
            }
        }
    }

    /** Writes a model file into the place it is given. */
    @FunctionalInterface
    public interface ModelWriter {
        void write(Path target) throws IOException;
    }

    /**
     * What one commit changes. {@code best} is null when the epoch did not improve on the best; {@code logLine} is
     * appended to the log once, when the files are in place.
     */
    record Commit(int epoch, List<String> files, String logLine) {
    }

    /**
     * Writes one epoch's files as one change (see the class comment): the checkpoint by {@code last}, the best model
     * by {@code best} (or null), the metrics of {@code history}, and {@code logLine}, which is also printed.
     */
    public void commit(int epoch, ModelWriter last, ModelWriter best, List<EpochMetrics> history, String logLine)
            throws IOException {
        Path pending = dir.resolve(PENDING);
        AtomicFiles.deleteTree(pending);
        Files.createDirectories(pending);
        List<String> files = new ArrayList<>();
        last.write(pending.resolve(LAST));
        files.add(LAST);
        FaultInjection.point("commit:staged-last");
        if (best != null) {
            best.write(pending.resolve(BEST));
            files.add(BEST);
            FaultInjection.point("commit:staged-best");
        }
        AtomicFiles.writeString(pending.resolve(METRICS), EpochMetrics.csv(history));
        files.add(METRICS);
        FaultInjection.point("commit:staged-metrics");
        Commit commit = new Commit(epoch, files, stamped(logLine));
        AtomicFiles.writeString(pending.resolve(COMMIT), Configs.toJson(commit));
        FaultInjection.point("commit:written");
        console.println(logLine);
        rollForward(commit);
        AtomicFiles.deleteTree(pending);
    }

    /** Moves a committed epoch's files into place and logs it; safe to repeat after a kill half-way. */
    private void rollForward(Commit commit) throws IOException {
        Path pending = dir.resolve(PENDING);
        for (String file : commit.files()) {
            if (Files.exists(pending.resolve(file))) {
                AtomicFiles.move(pending.resolve(file), dir.resolve(file));
                FaultInjection.point("commit:moved-" + file);
            }
        }
        Path log = dir.resolve(LOG);
        List<String> lines = Files.exists(log) ? Files.readAllLines(log, StandardCharsets.UTF_8) : List.of();
        if (commit.logLine() != null && (lines.isEmpty() || !lines.get(lines.size() - 1).equals(commit.logLine()))) {
            append(commit.logLine());
        }
        FaultInjection.point("commit:logged");
        Files.deleteIfExists(pending.resolve(COMMIT));
    }

    /**
     * Adds a start of this run to {@value #PROVENANCE}: the first, or a resume after {@code epochsDone} epochs (a run
     * longer than one sitting says so in its record).
     */
    public void recordStart(Provenance start, int epochsDone) throws IOException {
        Path file = dir.resolve(PROVENANCE);
        List<Map<String, Object>> starts = new ArrayList<>();
        if (Files.isRegularFile(file)) {
            starts.addAll(Configs.json().readValue(file.toFile(), RunStarts.class).starts());
        }
        Map<String, Object> entry = new LinkedHashMap<>();
        entry.put("started", start.started());
        entry.put("command", start.command());
        entry.put("code", start.code());
        entry.put("machine", start.machine());
        entry.put("epochsDoneBefore", epochsDone);
        starts.add(entry);
        AtomicFiles.writeString(file, Configs.json().writeValueAsString(new RunStarts(starts)) + "\n");
    }

    /** {@value #PROVENANCE}: the run's starts, oldest first. */
    public record RunStarts(List<Map<String, Object>> starts) {
    }

    /** Prints {@code line} and appends it, time-stamped, to {@value #LOG}. */
    public void log(String line) {
        console.println(line);
        try {
            append(stamped(line));
        } catch (IOException e) {
            console.println("(could not write " + LOG + ": " + e.getMessage() + ")");
        }
    }

    private static String stamped(String line) {
        return LocalDateTime.now().format(DateTimeFormatter.ISO_LOCAL_DATE_TIME) + " " + line;
    }

    private void append(String stampedLine) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve(LOG), stampedLine + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                StandardOpenOption.APPEND);
    }

    public void writeResults(String json) throws IOException {
        AtomicFiles.writeString(dir.resolve(RESULTS), json);
    }

    /**
     * Records how a run ended: results.json (status, epochs, best epoch, test metrics and confusion matrix where the
     * best model was tested, and the {@code details} its caller adds), the same metrics inside the best and last model
     * files, the plots, and a log line, which it returns.
     */
    public String finish(TrainingLoop.Status status, TrainingState state, EvaluationReport tested,
                         Map<String, Object> details) throws IOException {
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
        metrics.putAll(details);
        if (tested != null) {
            metrics.put("confusion", tested.confusion());
        }
        String json = Configs.toJson(metrics);
        // results.json last: it says the run is over, and a run killed before it finishes again on --resume.
        ModelFile.putEntries(best, Map.of(ModelFile.METRICS, json));
        FaultInjection.point("finish:best-metrics");
        if (!best.equals(last())) {
            ModelFile.putEntries(last(), Map.of(ModelFile.METRICS, json));
        }
        FaultInjection.point("finish:last-metrics");
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
