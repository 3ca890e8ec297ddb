package org.zoo4j.dashboard;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.deeplearning4j.arbiter.optimize.api.ParameterSpace;
import org.deeplearning4j.arbiter.optimize.parameter.continuous.ContinuousParameterSpace;
import org.zoo4j.sweep.PrunerSpec;
import org.zoo4j.sweep.Sweep;
import org.zoo4j.sweep.SweepSpec;
import org.zoo4j.sweep.SweepStore;
import org.zoo4j.sweep.SweepStore.State;
import org.zoo4j.sweep.SweepStore.Trial;
import org.zoo4j.training.Trainer;

/**
 * A sweep as the dashboard shows it: its definition (sweep.yaml, read once) and its store, opened read-only on every
 * request, so a sweep that is running shows its trials as they finish.
 */
final class SweepView {
    private final Path dir;
    private FileTime specTime;
    private SweepSpec spec;
    private String specError;

    SweepView(Path dir) {
        this.dir = dir;
    }

    Path dir() {
        return dir;
    }

    /** The definition, read again only when sweep.yaml changed; null for a sweep defined in code. */
    private synchronized SweepSpec spec() {
        Path file = dir.resolve("sweep.yaml");
        try {
            FileTime time = Files.isRegularFile(file) ? Files.getLastModifiedTime(file) : null;
            if (time == null || !time.equals(specTime)) {
                specTime = time;
                spec = null;
                specError = null;
                spec = Sweep.readSpec(dir);
            }
        } catch (IOException | RuntimeException e) {
            specError = e.getMessage();
        }
        return spec;
    }

    /** The index's line: name, trials by state, best value. */
    Map<String, Object> summary() throws IOException {
        SweepStore store = SweepStore.openReadOnly(dir);
        List<Trial> trials = store.trials();
        Objective objective = objective(store);
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("name", dir.getFileName().toString());
        s.put("path", dir.toString());
        s.put("objective", objective.key);
        s.put("trials", trials.size());
        s.put("counts", counts(trials));
        Trial best = ranked(trials, objective).stream().filter(t -> t.state() == State.COMPLETE).findFirst()
                .orElse(null);
        s.put("best", best == null ? null : best.value());
        s.put("bestTrial", best == null ? null : best.number());
        return s;
    }

    /** Everything the sweep page shows; trials of the sweep are served as runs under {@code id/NNNN}. */
    Map<String, Object> detail(String id) throws IOException {
        SweepStore store = SweepStore.openReadOnly(dir);
        List<Trial> trials = store.trials();
        Map<Integer, Map<Integer, Double>> curves = store.intermediate();
        SweepSpec spec = spec();
        Objective objective = objective(store);
        Map<String, Object> d = summary();
        d.put("maximize", objective.maximize);
        d.put("definitionError", specError);
        d.put("strategy", spec == null ? store.meta("source") : spec.strategy().type());
        PrunerSpec pruner = spec == null ? PrunerSpec.NONE : spec.pruner();
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("type", pruner.type());
        if (pruner instanceof PrunerSpec.Asha a) {
            p.put("minEpochs", a.minEpochs());
            p.put("reductionFactor", a.reductionFactor());
        } else if (pruner instanceof PrunerSpec.Median m) {
            p.put("minEpochs", m.minEpochs());
            p.put("startupTrials", m.startupTrials());
        }
        d.put("pruner", p);
        int maxEpochs = spec == null ? 0 : spec.base().epochs();
        for (Trial t : trials) {
            maxEpochs = Math.max(maxEpochs, t.epochs());
            try {
                maxEpochs = Math.max(maxEpochs, Integer.parseInt(t.params().getOrDefault("epochs", "0")));
            } catch (NumberFormatException e) {
                // not searched as a number
            }
        }
        d.put("maxEpochs", maxEpochs);
        d.put("rungs", rungs(pruner, maxEpochs));

        Set<String> keys = new LinkedHashSet<>(spec == null ? List.of() : spec.space().settingKeys());
        trials.forEach(t -> keys.addAll(t.params().keySet()));
        List<String> logKeys = new ArrayList<>();
        if (spec != null) {
            for (String key : spec.space().settingKeys()) {
                ParameterSpace<?> space = spec.space().settingSpace(key);
                // Arbiter exposes no getter for a continuous space's distribution; its description names it.
                if (space instanceof ContinuousParameterSpace && space.toString().contains("LogUniform")) {
                    logKeys.add(key);
                }
            }
        }
        d.put("keys", List.copyOf(keys));
        d.put("logKeys", logKeys);

        List<Map<String, Object>> rows = new ArrayList<>();
        int rank = 1;
        for (Trial t : ranked(trials, objective)) {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("rank", rank++);
            r.put("number", t.number());
            r.put("state", t.state().name().toLowerCase(Locale.ROOT));
            r.put("value", t.value());
            r.put("testAccuracy", t.testAccuracy());
            r.put("epochs", t.epochs());
            r.put("seconds", t.seconds());
            r.put("params", t.params());
            r.put("reason", t.reason());
            Path trialDir = Catalog.trialDir(dir, t.number());
            boolean exists = Files.isDirectory(trialDir);
            r.put("runId", exists ? Catalog.trialId(id, t.number()) : null);
            r.put("runDir", trialDir.toString());
            r.put("hasRecipe", exists && Files.isRegularFile(trialDir.resolve(Trainer.RECIPE_FILE)));
            rows.add(r);
        }
        d.put("leaderboard", rows);
        Map<String, List<double[]>> c = new LinkedHashMap<>();
        curves.forEach((trial, byEpoch) -> {
            List<double[]> points = new ArrayList<>();
            byEpoch.forEach((epoch, value) -> points.add(new double[] {epoch, value}));
            c.put(String.valueOf(trial), points);
        });
        d.put("curves", c);
        return d;
    }

    /** The epochs at which the pruner decides: ASHA's rungs, or every epoch from the median rule's first. */
    static List<Integer> rungs(PrunerSpec pruner, int maxEpochs) {
        List<Integer> rungs = new ArrayList<>();
        if (pruner instanceof PrunerSpec.Asha a && a.minEpochs() > 0 && a.reductionFactor() > 1) {
            for (long r = a.minEpochs(); r < maxEpochs; r *= a.reductionFactor()) {
                rungs.add((int) r);
            }
        } else if (pruner instanceof PrunerSpec.Median m) {
            for (int e = Math.max(1, m.minEpochs()); e < maxEpochs; e++) {
                rungs.add(e);
            }
        }
        return rungs;
    }

    private record Objective(String key, boolean maximize) {
    }

    /** The objective from the definition, else as the store recorded it; validation accuracy where neither says. */
    private Objective objective(SweepStore store) throws IOException {
        SweepSpec spec = spec();
        if (spec != null) {
            return new Objective(spec.objective().key(), spec.objective().maximize());
        }
        String key = store.meta("objective");
        for (SweepSpec.Objective o : SweepSpec.Objective.values()) {
            if (o.key().equals(key)) {
                return new Objective(o.key(), o.maximize());
            }
        }
        return new Objective(SweepSpec.Objective.VALIDATION_ACCURACY.key(), true);
    }

    private static Map<String, Long> counts(List<Trial> trials) {
        Map<String, Long> counts = new LinkedHashMap<>();
        for (State s : State.values()) {
            counts.put(s.name().toLowerCase(Locale.ROOT), trials.stream().filter(t -> t.state() == s).count());
        }
        return counts;
    }

    /** As the sweep report ranks them: trials with a value first, complete ones first, then by value. */
    private static List<Trial> ranked(List<Trial> trials, Objective objective) {
        Comparator<Trial> byValue = Comparator.comparing((Trial t) -> t.value() == null)
                .thenComparing(t -> t.state() == State.COMPLETE ? 0 : 1)
                .thenComparing(t -> t.value() == null ? 0 : objective.maximize ? -t.value() : t.value())
                .thenComparing(Trial::number);
        return trials.stream().sorted(byValue).toList();
    }
}
