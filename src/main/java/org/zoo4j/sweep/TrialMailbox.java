package org.zoo4j.sweep;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.zoo4j.base.AtomicFiles;
import org.zoo4j.base.Configs;

/**
 * How a trial that trains on a cluster's executor reports its epochs to the sweep's driver and hears back whether to
 * stop: through files in its run directory, which driver and executors share anyway (the trial's checkpoints are
 * there). The store stays a file on the driver's own disk that only the driver opens: SQLite's locks and its
 * write-ahead log are not safe on network filesystems, where a cluster's shared directory usually is.
 * <pre>
 *   trials/0007/.mailbox/epoch-0003.report     {"epoch":3,"value":0.81,"best":0.81,"last":false}  (executor)
 *   trials/0007/.mailbox/epoch-0003.decision   {"prune":null} or {"prune":"asha: ..."}              (driver)
 * </pre>
 * Both are written atomically. Answering a report again gives the same answer, so a driver that was killed answers
 * what it had not answered when it is resumed.
 */
public final class TrialMailbox {
    static final String DIR = ".mailbox";
    private static final long POLL_MILLIS = 200;

    /** An epoch's result, as the executor reports it. */
    public record Report(int epoch, double value, Double best, boolean last) {
    }

    /** The driver's answer: a reason to prune the trial, or null to go on. */
    public record Decision(String prune) {
    }

    private TrialMailbox() {
    }

    /**
     * The executor's side: reports each epoch of the trial in {@code trialDir} and waits for the driver's decision
     * (not after the last epoch), at most {@code waitMillis}; without an answer by then the trial goes on unpruned.
     */
    public static Sweep.EpochReporter client(Path trialDir, long waitMillis) {
        return (trial, epoch, value, best, last) -> {
            Path box = Files.createDirectories(trialDir.resolve(DIR));
            Path decision = box.resolve(name(epoch, "decision"));
            Files.deleteIfExists(decision);
            AtomicFiles.writeString(box.resolve(name(epoch, "report")),
                    Configs.toJson(new Report(epoch, value, best, last)));
            if (last) {
                return null;
            }
            long until = System.currentTimeMillis() + waitMillis;
            while (System.currentTimeMillis() < until) {
                if (Files.isRegularFile(decision)) {
                    return Configs.fromJson(Files.readString(decision), Decision.class).prune();
                }
                try {
                    Thread.sleep(POLL_MILLIS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return null;
                }
            }
            return null;
        };
    }

    /**
     * The driver's side: stores every report of trial {@code n} that has no decision yet and writes the pruner's
     * decision for it; returns how many it answered.
     */
    public static int serve(Sweep sweep, int n) throws IOException {
        Path box = sweep.trialDir(n).resolve(DIR);
        if (!Files.isDirectory(box)) {
            return 0;
        }
        List<Path> reports = new ArrayList<>();
        try (Stream<Path> files = Files.list(box)) {
            files.filter(f -> f.getFileName().toString().endsWith(".report")).sorted().forEach(reports::add);
        }
        int answered = 0;
        for (Path file : reports) {
            Report r = Configs.fromJson(Files.readString(file), Report.class);
            Path decision = box.resolve(name(r.epoch(), "decision"));
            if (Files.exists(decision) || r.last() && Files.exists(box.resolve(name(r.epoch(), "stored")))) {
                continue;
            }
            String prune = sweep.recordEpoch(n, r.epoch(), r.value(), r.best(), r.last());
            if (r.last()) {
                AtomicFiles.writeString(box.resolve(name(r.epoch(), "stored")), "{}");
            } else {
                AtomicFiles.writeString(decision, Configs.toJson(new Decision(prune)));
            }
            answered++;
        }
        return answered;
    }

    private static String name(int epoch, String kind) {
        return String.format(Locale.ROOT, "epoch-%04d.%s", epoch, kind);
    }
}
