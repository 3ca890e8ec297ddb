package org.zoo4j.base;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * Where a result came from: the command that produced it, the code it ran (the launcher passes the commit in
 * {@value #CODE}: {@code ./zoo4j} knows its checkout; a program using the library names it itself, or it is unknown),
 * the machine and when it started. Written into a run directory's {@code run.json}, so that a published figure can be
 * placed and produced again.
 *
 * @param command the command line, as it could be typed again
 * @param code    "commit abc1234", "commit abc1234 with uncommitted changes" or "unknown"
 * @param machine CPU model, logical cores, operating system, Java version
 * @param started ISO-8601 time, UTC, to the second
 */
public record Provenance(String command, String code, String machine, String started) {
    /** The system property with the code's commit ({@code ./zoo4j} sets it from git). */
    public static final String CODE = "zoo4j.code";

    /** This process, now: {@code command} as given. */
    public static Provenance of(String command) {
        String code = System.getProperty(CODE, "").trim();
        return new Provenance(command, code.isEmpty() ? "unknown" : code, thisMachine(),
                Instant.now().truncatedTo(ChronoUnit.SECONDS).toString());
    }

    /** {@code ./zoo4j} followed by the arguments, each quoted where the shell would need it. */
    public static String commandLine(List<String> args) {
        return "./zoo4j " + args.stream().map(Provenance::quoted).collect(Collectors.joining(" "));
    }

    static String quoted(String arg) {
        return arg.matches("[A-Za-z0-9_@%+=:,./-]+") ? arg : "'" + arg.replace("'", "'\\''") + "'";
    }

    /** CPU model (from /proc/cpuinfo where there is one), logical cores, operating system and Java. */
    public static String thisMachine() {
        String cpu = "unknown CPU";
        try {
            cpu = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
                    .map(l -> l.substring(l.indexOf(':') + 1).trim()).findFirst().orElse(cpu);
        } catch (IOException | RuntimeException e) {
            // not Linux: the other facts still place the run
        }
        return String.format(Locale.ROOT, "%s, %d logical cores, %s %s, Java %s", cpu,
                Runtime.getRuntime().availableProcessors(), System.getProperty("os.name"),
                System.getProperty("os.version"), System.getProperty("java.version"));
    }
}
