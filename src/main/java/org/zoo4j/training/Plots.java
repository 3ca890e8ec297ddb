package org.zoo4j.training;

import java.awt.Color;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.HeatMapChart;
import org.knowm.xchart.HeatMapChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.internal.chartpart.Chart;
import org.knowm.xchart.style.Styler;
import org.zoo4j.base.AtomicFiles;
import org.zoo4j.modelfile.EpochMetrics;

/** PNG plots of a run (XChart): loss and accuracy per epoch, and the test confusion matrix. */
public final class Plots {
    private Plots() {
    }

    /** loss.png, accuracy.png and confusion.png in the run directory. */
    static void writeAll(Path runDir, List<EpochMetrics> history, EvaluationReport test) throws IOException {
        XYChart loss = curves("Loss", "cross-entropy", history, List.of("train", "validation"),
                List.of(EpochMetrics::trainLoss, EpochMetrics::validationLoss));
        save(loss, runDir.resolve("loss.png"));
        XYChart accuracy = curves("Validation accuracy", "accuracy (%)", history, List.of("validation"),
                List.of(m -> 100 * m.validationAccuracy()));
        save(accuracy, runDir.resolve("accuracy.png"));
        if (test != null) {
            confusion(runDir.resolve("confusion.png"), test, String.format(Locale.ROOT,
                    "Test confusion matrix (accuracy %.2f%%)", 100 * test.accuracy()));
        }
    }

    private static XYChart curves(String title, String yTitle, List<EpochMetrics> history, List<String> names,
                                  List<ToDoubleFunction<EpochMetrics>> values) {
        XYChart chart = new XYChartBuilder().width(800).height(500).title(title).xAxisTitle("epoch").yAxisTitle(yTitle)
                .build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS); // never over the last points
        chart.getStyler().setChartBackgroundColor(Color.WHITE);
        for (int s = 0; s < names.size(); s++) {
            List<Integer> x = new ArrayList<>();
            List<Double> y = new ArrayList<>();
            for (EpochMetrics m : history) {
                double v = values.get(s).applyAsDouble(m);
                if (Double.isFinite(v)) {
                    x.add(m.epoch());
                    y.add(v);
                }
            }
            if (!x.isEmpty()) {
                chart.addSeries(names.get(s), x, y);
            }
        }
        return chart;
    }

    /** The confusion matrix as a heat map, counts in the cells; rows are the actual classes. */
    public static void confusion(Path png, EvaluationReport e, String title) throws IOException {
        int n = e.labels().size();
        List<String> names = new ArrayList<>(e.labels());
        List<Number[]> cells = new ArrayList<>();
        for (int actual = 0; actual < n; actual++) {
            for (int predicted = 0; predicted < n; predicted++) {
                // Heat-map y runs upwards; put the first class at the top like a printed matrix.
                cells.add(new Number[] {predicted, n - 1 - actual, e.confusion()[actual][predicted]});
            }
        }
        List<String> rows = new ArrayList<>(names);
        Collections.reverse(rows);
        HeatMapChart chart = new HeatMapChartBuilder().width(200 + 70 * n).height(150 + 55 * n).title(title)
                .xAxisTitle("predicted").yAxisTitle("actual").build();
        chart.getStyler().setShowValue(true);
        chart.getStyler().setChartBackgroundColor(Color.WHITE);
        chart.getStyler().setRangeColors(new Color[] {new Color(247, 251, 255), new Color(107, 174, 214),
                new Color(8, 48, 107)});
        chart.getStyler().setXAxisLabelRotation(45);
        chart.addSeries("count", names, rows, cells);
        save(chart, png);
    }

    private static void save(Chart<?, ?> chart, Path png) throws IOException {
        AtomicFiles.write(png, out -> BitmapEncoder.saveBitmap(chart, out, BitmapEncoder.BitmapFormat.PNG));
    }
}
