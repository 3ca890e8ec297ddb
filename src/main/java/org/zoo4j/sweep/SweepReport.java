package org.zoo4j.sweep;

import java.awt.Color;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.deeplearning4j.arbiter.optimize.api.ParameterSpace;
import org.deeplearning4j.arbiter.optimize.parameter.continuous.ContinuousParameterSpace;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.internal.chartpart.Chart;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;
import org.zoo4j.base.AtomicFiles;
import org.zoo4j.base.Table;
import org.zoo4j.sweep.SweepStore.State;
import org.zoo4j.sweep.SweepStore.Trial;

/**
 * A sweep's report, in its directory: leaderboard.txt (also printed), best-recipe.yaml (the best trial's recipe,
 * runnable with ./zoo4j train), objective.png (each trial's value and the running best), param-KEY.png (each searched
 * field against the objective), rungs.png (trials still running at each epoch: what pruning kept) and report.html
 * showing them all.
 */
public final class SweepReport {
    private SweepReport() {
    }

    public static void write(Sweep sweep, PrintStream console) throws IOException {
        SweepSpec spec = sweep.spec();
        Path dir = sweep.dir();
        List<Trial> trials = sweep.store().trials();
        SweepSpec.Objective objective = spec.objective();
        Comparator<Trial> byValue = Comparator.comparing((Trial t) -> t.value() == null)
                .thenComparing(t -> t.state() == State.COMPLETE ? 0 : 1)
                .thenComparing(t -> t.value() == null ? 0 : objective.maximize() ? -t.value() : t.value());
        List<Trial> ranked = trials.stream().sorted(byValue).toList();

        ByteArrayOutputStream text = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(text, true, StandardCharsets.UTF_8);
        Map<State, Long> counts = new LinkedHashMap<>();
        for (State s : State.values()) {
            counts.put(s, trials.stream().filter(t -> t.state() == s).count());
        }
        out.printf(Locale.ROOT, "sweep %s: %d trials (%d complete, %d pruned, %d failed, %d running, %d queued); "
                        + "strategy %s, pruner %s, objective %s%n", spec.name(), trials.size(), counts.get(State.COMPLETE),
                counts.get(State.PRUNED), counts.get(State.FAILED), counts.get(State.RUNNING), counts.get(State.QUEUED),
                spec.strategy().type(), spec.pruner().type(), objective.key());
        List<String> keys = spec.space().settingKeys();
        List<String> header = new ArrayList<>(List.of("rank", "trial", "state", objective.key(), "test acc", "epochs",
                "time"));
        header.addAll(keys);
        header.add("reason");
        Table table = new Table(header.toArray(String[]::new)).right(0, 1, 3, 4, 5, 6);
        int rank = 1;
        for (Trial t : ranked) {
            List<Object> row = new ArrayList<>(List.of(rank++, String.format(Locale.ROOT, "%04d", t.number()),
                    t.state().name().toLowerCase(Locale.ROOT), t.value() == null ? "-" : String.format(Locale.ROOT,
                            "%.4f", t.value()), t.testAccuracy() == null ? "-" : String.format(Locale.ROOT, "%.4f",
                            t.testAccuracy()), t.epochs(), String.format(Locale.ROOT, "%.0f s", t.seconds())));
            keys.forEach(k -> row.add(t.params().getOrDefault(k, "")));
            row.add(t.reason() == null ? "" : t.reason());
            table.row(row.toArray());
        }
        table.print(out);
        Trial best = ranked.stream().filter(t -> t.state() == State.COMPLETE).findFirst().orElse(null);
        if (best != null) {
            Path recipe = sweep.trialDir(best.number()).resolve("recipe.yaml");
            AtomicFiles.writeString(dir.resolve("best-recipe.yaml"), "# Best trial " + String.format(Locale.ROOT,
                    "%04d", best.number()) + " of sweep " + spec.name() + ": " + objective.key() + " "
                    + String.format(Locale.ROOT, "%.4f", best.value()) + "\n# ./zoo4j train " + dir.resolve(
                    "best-recipe.yaml") + "\n" + Files.readString(recipe));
            out.printf(Locale.ROOT, "best: trial %04d, %s %.4f; its recipe: %s (./zoo4j train %s)%n", best.number(),
                    objective.key(), best.value(), dir.resolve("best-recipe.yaml"), dir.resolve("best-recipe.yaml"));
        } else {
            out.println("no trial has completed yet");
        }
        String leaderboard = text.toString(StandardCharsets.UTF_8);
        AtomicFiles.writeString(dir.resolve("leaderboard.txt"), leaderboard);
        console.print(leaderboard);

        List<String> images = new ArrayList<>();
        save(objectivePlot(trials, objective), dir.resolve("objective.png"), images);
        for (int i = 0; i < keys.size(); i++) {
            XYChart chart = paramPlot(keys.get(i), trials, objective, spec.space().settingSpace(keys.get(i)));
            if (chart != null) {
                save(chart, dir.resolve("param-" + i + ".png"), images);
            }
        }
        save(rungPlot(sweep.store().intermediate()), dir.resolve("rungs.png"), images);
        AtomicFiles.writeString(dir.resolve("report.html"), html(spec, leaderboard, images));
        console.println("report: " + dir.resolve("report.html"));
    }

    private static XYChart objectivePlot(List<Trial> trials, SweepSpec.Objective objective) {
        XYChart chart = chart("Objective per trial", "trial", objective.key());
        for (State s : List.of(State.COMPLETE, State.PRUNED)) {
            List<Integer> x = new ArrayList<>();
            List<Double> y = new ArrayList<>();
            trials.stream().filter(t -> t.state() == s && t.value() != null).forEach(t -> {
                x.add(t.number());
                y.add(t.value());
            });
            if (!x.isEmpty()) {
                scatter(chart.addSeries(s.name().toLowerCase(Locale.ROOT), x, y));
            }
        }
        List<Integer> x = new ArrayList<>();
        List<Double> y = new ArrayList<>();
        Double best = null;
        for (Trial t : trials) {
            if (t.state() == State.COMPLETE && t.value() != null && (best == null || objective.better(t.value(), best))) {
                best = t.value();
            }
            if (best != null) {
                if (!y.isEmpty() && !y.get(y.size() - 1).equals(best)) {
                    x.add(t.number()); // a step, not a slope, where the best improves
                    y.add(y.get(y.size() - 1));
                }
                x.add(t.number());
                y.add(best);
            }
        }
        if (!x.isEmpty()) {
            chart.addSeries("best so far (complete)", x, y).setMarker(SeriesMarkers.NONE);
        }
        return chart;
    }

    /** A searched field against the objective; choices of text are placed at their index. */
    private static XYChart paramPlot(String key, List<Trial> trials, SweepSpec.Objective objective,
                                     ParameterSpace<?> space) {
        List<String> categories = new ArrayList<>();
        List<Double> x = new ArrayList<>();
        List<Double> y = new ArrayList<>();
        boolean numeric = true;
        for (Trial t : trials) {
            String v = t.params().get(key);
            if (v != null && t.value() != null) {
                try {
                    x.add(Double.parseDouble(v));
                } catch (NumberFormatException e) {
                    numeric = false;
                    if (!categories.contains(v)) {
                        categories.add(v);
                    }
                    x.add((double) categories.indexOf(v));
                }
                y.add(t.value());
            }
        }
        if (x.isEmpty()) {
            return null;
        }
        String title = numeric ? key : key + " (" + String.join(", ", categories.stream().map(c -> categories.indexOf(c)
                + "=" + c).toList()) + ")";
        XYChart chart = chart(title, key, objective.key());
        // Arbiter exposes no getter for a continuous space's distribution; its description names it.
        boolean log = space instanceof ContinuousParameterSpace
                && space.toString().contains("LogUniform") && x.stream().allMatch(v -> v > 0);
        chart.getStyler().setXAxisLogarithmic(log);
        scatter(chart.addSeries("trials", x, y));
        return chart;
    }

    /** How many trials finished each epoch: the survivors of each rung when a pruner is on. */
    private static CategoryChart rungPlot(Map<Integer, Map<Integer, Double>> values) {
        Map<Integer, Integer> reached = new TreeMap<>();
        values.values().forEach(byEpoch -> byEpoch.keySet().forEach(e -> reached.merge(e, 1, Integer::sum)));
        CategoryChart chart = new CategoryChartBuilder().width(800).height(500).title("Trials that reached each epoch")
                .xAxisTitle("epoch").yAxisTitle("trials").build();
        chart.getStyler().setChartBackgroundColor(Color.WHITE);
        chart.getStyler().setLegendVisible(false);
        if (reached.isEmpty()) {
            reached.put(1, 0);
        }
        chart.addSeries("trials", new ArrayList<>(reached.keySet()), new ArrayList<>(reached.values()));
        return chart;
    }

    private static XYChart chart(String title, String x, String y) {
        XYChart chart = new XYChartBuilder().width(800).height(500).title(title).xAxisTitle(x).yAxisTitle(y).build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
        chart.getStyler().setChartBackgroundColor(Color.WHITE);
        return chart;
    }

    private static void scatter(XYSeries s) {
        s.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
    }

    private static void save(Chart<?, ?> chart, Path png, List<String> images) throws IOException {
        AtomicFiles.write(png, out -> BitmapEncoder.saveBitmap(chart, out, BitmapEncoder.BitmapFormat.PNG));
        images.add(png.getFileName().toString());
    }

    private static String html(SweepSpec spec, String leaderboard, List<String> images) {
        StringBuilder b = new StringBuilder("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>sweep ")
                .append(escape(spec.name())).append("</title>\n<style>body{font-family:sans-serif;margin:2em}"
                        + "pre{font-size:12px;overflow-x:auto}img{max-width:800px;display:block;margin:1em 0}</style>"
                        + "</head><body>\n<h1>Sweep ").append(escape(spec.name())).append("</h1>\n<h2>Leaderboard</h2>\n"
                        + "<pre>").append(escape(leaderboard)).append("</pre>\n<p>Best recipe: <a href=\"best-recipe.yaml\">"
                        + "best-recipe.yaml</a>; definition: <a href=\"sweep.yaml\">sweep.yaml</a>.</p>\n<h2>Plots</h2>\n");
        for (String image : images) {
            b.append("<img src=\"").append(image).append("\" alt=\"").append(image).append("\">\n");
        }
        return b.append("</body></html>\n").toString();
    }

    private static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
