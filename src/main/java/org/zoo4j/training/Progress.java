package org.zoo4j.training;

import java.io.PrintStream;
import java.util.Locale;

/**
 * Training progress: on a terminal a bar redrawn in place, with loss, images/s and ETA; otherwise (a log file, a pipe)
 * a plain line every {@link #PLAIN_INTERVAL_NANOS}.
 */
final class Progress {
    private static final long PLAIN_INTERVAL_NANOS = 10_000_000_000L;
    private static final long BAR_INTERVAL_NANOS = 200_000_000L;
    private static final int BAR_WIDTH = 30;

    private final PrintStream out;
    private final boolean terminal;
    private long lastPrint;

    Progress(PrintStream out, boolean terminal) {
        this.out = out;
        this.terminal = terminal;
    }

    /** Whether standard output is a terminal (not redirected). */
    static boolean stdoutIsTerminal() {
        return System.console() != null;
    }

    /** {@code batches} is the epoch's batch count, or 0 or less when the data does not say (then no bar and no ETA). */
    void update(int epoch, int epochs, int batch, int batches, double loss, double imagesPerSecond, double etaSeconds) {
        long now = System.nanoTime();
        boolean known = batches > 0;
        if (now - lastPrint < (terminal ? BAR_INTERVAL_NANOS : PLAIN_INTERVAL_NANOS) && (!known || batch < batches)) {
            return;
        }
        lastPrint = now;
        if (!known) {
            String line = String.format(Locale.ROOT, "epoch %d/%d batch %d loss %.4f %.0f img/s", epoch, epochs, batch,
                    loss, imagesPerSecond);
            if (terminal) {
                out.print("\r" + line + " ");
                out.flush();
            } else {
                out.println(line);
            }
        } else if (terminal) {
            int filled = batches == 0 ? 0 : (int) ((long) BAR_WIDTH * batch / batches);
            out.printf(Locale.ROOT, "\repoch %d/%d [%s%s] %d/%d loss %.4f  %.0f img/s  ETA %s ", epoch, epochs,
                    "=".repeat(filled), " ".repeat(BAR_WIDTH - filled), batch, batches, loss, imagesPerSecond,
                    duration(etaSeconds));
            out.flush();
        } else if (batch < batches) {
            out.printf(Locale.ROOT, "epoch %d/%d batch %d/%d loss %.4f %.0f img/s ETA %s%n", epoch, epochs, batch,
                    batches, loss, imagesPerSecond, duration(etaSeconds));
        }
    }

    /** Ends the bar's line before other output. */
    void endLine() {
        if (terminal) {
            out.print("\r" + " ".repeat(100) + "\r");
            out.flush();
        }
    }

    static String duration(double seconds) {
        if (!Double.isFinite(seconds)) {
            return "?";
        }
        long s = Math.round(seconds);
        return s >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                : String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
    }
}
