package org.zoo4j.dashboard;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import org.zoo4j.base.ConfigException;
import org.zoo4j.sweep.SweepStore;
import org.zoo4j.training.RunDirectory;
import org.zoo4j.training.StatsRecorder;
import org.zoo4j.training.Trainer;

/**
 * What a dashboard shows: run directories and sweep directories, each under an id that the pages and the JSON
 * endpoints use. Only directories in the catalog (and the trials of its sweeps) are ever read; an id from a request is
 * looked up here and never turned into a path itself. Runs and sweeps are given one by one, or found in a folder that
 * is scanned again on every request ({@code runs/}: the runs in it, the sweeps in {@code runs/sweeps/}), so runs
 * started later appear too.
 */
public final class Catalog {
    /** A run or sweep with its id. */
    public record Entry(String id, Path dir) {
    }

    private final Map<String, Path> runs = new LinkedHashMap<>();
    private final Map<String, Path> sweeps = new LinkedHashMap<>();
    private final Path root;

    private Catalog(Path root) {
        this.root = root;
    }

    /** An empty catalog; {@link #addRun} adds to it. */
    public static Catalog empty() {
        return new Catalog(null);
    }

    /**
     * The runs and sweeps named: each path must be a run directory (recipe.yaml, metrics.csv, a checkpoint or
     * stats.jsonl in it) or a sweep directory (sweep.db in it).
     */
    public static Catalog of(List<Path> dirs) {
        Catalog c = new Catalog(null);
        for (Path dir : dirs) {
            if (isSweep(dir)) {
                c.put(c.sweeps, dir);
            } else if (isRun(dir)) {
                c.put(c.runs, dir);
            } else {
                throw new ConfigException(dir + (Files.isDirectory(dir) ? " is neither a run directory (no "
                        + Trainer.RECIPE_FILE + ", " + RunDirectory.METRICS + " or " + RunDirectory.LAST
                        + ") nor a sweep directory (no sweep.db)" : ": no such directory")
                        + "; give run or sweep directories, or none for every run in --dir");
            }
        }
        return c;
    }

    /** Every run in {@code root} and every sweep in {@code root/sweeps}, looked for again on each request. */
    public static Catalog scanning(Path root) {
        if (!Files.isDirectory(root)) {
            throw new ConfigException(root + ": no such directory; runs go to runs/ by default (./zoo4j train), "
                    + "or give run or sweep directories");
        }
        return new Catalog(root);
    }

    /** Adds a run directory, which need not hold anything yet (a run about to start). Returns its id. */
    public synchronized String addRun(Path dir) {
        return put(runs, dir);
    }

    private String put(Map<String, Path> into, Path dir) {
        Path normal = dir.toAbsolutePath().normalize();
        for (Map.Entry<String, Path> e : into.entrySet()) {
            if (e.getValue().equals(normal)) {
                return e.getKey();
            }
        }
        String base = safeName(normal.getFileName() == null ? "root" : normal.getFileName().toString());
        String id = base;
        for (int i = 2; into.containsKey(id); i++) {
            id = base + "-" + i;
        }
        into.put(id, normal);
        return id;
    }

    /** The runs, in the order given or, scanned, by name. */
    public synchronized List<Entry> runs() {
        List<Entry> all = new ArrayList<>();
        runs.forEach((id, dir) -> all.add(new Entry(id, dir)));
        if (root != null) {
            for (Path dir : children(root)) {
                if (isRun(dir) && !runs.containsKey(dir.getFileName().toString())) {
                    all.add(new Entry(dir.getFileName().toString(), dir.toAbsolutePath().normalize()));
                }
            }
        }
        return all;
    }

    public synchronized List<Entry> sweeps() {
        List<Entry> all = new ArrayList<>();
        sweeps.forEach((id, dir) -> all.add(new Entry(id, dir)));
        if (root != null) {
            for (Path dir : children(root.resolve("sweeps"))) {
                if (isSweep(dir) && !sweeps.containsKey(dir.getFileName().toString())) {
                    all.add(new Entry(dir.getFileName().toString(), dir.toAbsolutePath().normalize()));
                }
            }
        }
        return all;
    }

    /** The run with this id, a trial {@code SWEEP/NNNN} of a sweep included; null when there is none. */
    public Path run(String id) {
        if (id == null) {
            return null;
        }
        int slash = id.indexOf('/');
        if (slash > 0) {
            Path sweep = sweep(id.substring(0, slash));
            String number = id.substring(slash + 1);
            if (sweep == null || !number.matches("\\d{4,9}")) {
                return null;
            }
            Path trial = trialDir(sweep, Integer.parseInt(number));
            return Files.isDirectory(trial) ? trial : null;
        }
        return runs().stream().filter(e -> e.id().equals(id)).map(Entry::dir).findFirst().orElse(null);
    }

    public Path sweep(String id) {
        return id == null ? null
                : sweeps().stream().filter(e -> e.id().equals(id)).map(Entry::dir).findFirst().orElse(null);
    }

    /** A sweep's trial directory, as {@code Sweep.trialDir} names it. */
    static Path trialDir(Path sweep, int number) {
        return sweep.resolve("trials").resolve(String.format(Locale.ROOT, "%04d", number));
    }

    /** The id under which a trial of sweep {@code sweepId} is served. */
    static String trialId(String sweepId, int number) {
        return sweepId + "/" + String.format(Locale.ROOT, "%04d", number);
    }

    public static boolean isRun(Path dir) {
        return Files.isDirectory(dir) && Stream.of(Trainer.RECIPE_FILE, RunDirectory.METRICS, RunDirectory.LAST,
                StatsRecorder.FILE).anyMatch(f -> Files.isRegularFile(dir.resolve(f)));
    }

    public static boolean isSweep(Path dir) {
        return Files.isDirectory(dir) && SweepStore.exists(dir);
    }

    private static List<Path> children(Path dir) {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(Files::isDirectory).sorted().toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    private static String safeName(String name) {
        String safe = name.replaceAll("[^A-Za-z0-9._-]+", "_");
        return safe.isEmpty() || safe.startsWith(".") ? "run" + safe : safe;
    }
}
