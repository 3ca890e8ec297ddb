package org.zoo4j.dashboard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;
import org.zoo4j.base.Configs;
import org.zoo4j.cli.Main;
import org.zoo4j.sweep.SweepStore;

/**
 * The dashboard's pages in a real browser: Debian's headless Chromium, driven through Debian's chromedriver by
 * Selenium (never Selenium Manager: nothing is downloaded). A real LeNet-5 run on a Fashion-MNIST subset with
 * per-step statistics, and a real three-trial sweep with ASHA pruning; the run page must show the run's own test and
 * validation accuracy and draw every chart with data, the sweep page must list every trial of the store. Screenshots
 * of the pages go to target/dashboard-screenshots/. A browser that cannot start fails the test; it is never skipped.
 */
class DashboardBrowserTest {
    static final String CHROMIUM = "/usr/bin/chromium";
    static final String CHROMEDRIVER = "/usr/bin/chromedriver";
    static final Path SCREENSHOTS = Path.of("target", "dashboard-screenshots");

    @TempDir
    static Path dir;

    private static Path run;
    private static Path sweep;
    private static DashboardServer server;
    private static WebDriver browser;

    @BeforeAll
    static void trainSweepAndOpenABrowser() throws Exception {
        run = dir.resolve("lenet5-run");
        assertEquals(0, Main.run("train", "--subset", "600", "--epochs", "2", "--batch-size", "64", "--offline",
                "--set", "statsEvery=2", "--out", run.toString()), "the run trains");

        Path recipe = dir.resolve("base.yaml");
        Files.writeString(recipe, """
                model: lenet5
                overrides:
                  updater: {name: adam, learningRate: 0.002}
                data: {dataset: fashion-mnist, batchSize: 64, subset: 300, download: false}
                epochs: 2
                """);
        Path file = dir.resolve("tiny.yaml");
        Files.writeString(file, """
                name: tiny
                recipe: %s
                space:
                  overrides.updater.learningRate: {logUniform: [1.0e-4, 3.0e-3]}
                  data.batchSize: {choice: [32, 64]}
                budget: {maxTrials: 3}
                strategy: {type: random, seed: 4}
                pruner: {type: asha, minEpochs: 1, reductionFactor: 3}
                """.formatted(recipe));
        assertEquals(0, Main.run("sweep", file.toString(), "--dir", dir.resolve("sweeps").toString()), "the sweep runs");
        sweep = dir.resolve("sweeps").resolve("tiny");

        server = DashboardServer.start(Catalog.of(List.of(run, sweep)), "127.0.0.1", 0, false);
        browser = chromium();
        Files.createDirectories(SCREENSHOTS);
    }

    /** Headless Chromium as root on a machine without network; a clear failure where it cannot start. */
    static WebDriver chromium() {
        for (String program : List.of(CHROMIUM, CHROMEDRIVER)) {
            if (!Files.isExecutable(Path.of(program))) {
                fail(program + " is missing: the browser tests need Debian's chromium and chromium-driver "
                        + "(data/install.sh installs them)");
            }
        }
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM);
        options.addArguments("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                "--disable-extensions", "--window-size=1400,1000", "--hide-scrollbars", "--lang=en-US");
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(new File(CHROMEDRIVER))
                .usingAnyFreePort().build();
        try {
            return new ChromeDriver(service, options);
        } catch (RuntimeException e) {
            fail("headless Chromium did not start (" + CHROMIUM + " through " + CHROMEDRIVER + "): " + e.getMessage(),
                    e);
            return null;
        }
    }

    @AfterAll
    static void close() {
        if (browser != null) {
            browser.quit();
        }
        if (server != null) {
            server.close();
        }
    }

    /** Opens a page and waits until its first data load has been drawn. */
    private static void open(String page) {
        browser.get(server.address().resolve(page).toString());
        new WebDriverWait(browser, Duration.ofSeconds(20)).until(b -> Boolean.TRUE.equals(
                ((JavascriptExecutor) b).executeScript("return window.zoo4jReady === true")));
        String error = browser.findElement(By.id("error")).getText();
        assertTrue(error.isEmpty(), page + ": " + error);
    }

    /** The whole page as PNG, the window made as tall as the page first. */
    private static void screenshot(String name) throws Exception {
        JavascriptExecutor js = (JavascriptExecutor) browser;
        for (int i = 0; i < 3; i++) { // the window's frame is not page: grow until the page fits
            long page = (Long) js.executeScript("return Math.ceil(document.documentElement.scrollHeight)");
            long view = (Long) js.executeScript("return window.innerHeight");
            if (view >= page) {
                break;
            }
            Dimension size = browser.manage().window().getSize();
            browser.manage().window().setSize(new Dimension(1400, (int) Math.min(8000, size.getHeight() + page - view)));
            js.executeScript("Object.values(window.zoo4jCharts || {}).forEach(c => c.resize())");
            Thread.sleep(300);
        }
        File png = ((TakesScreenshot) browser).getScreenshotAs(OutputType.FILE);
        Files.copy(png.toPath(), SCREENSHOTS.resolve(name + ".png"), StandardCopyOption.REPLACE_EXISTING);
        browser.manage().window().setSize(new Dimension(1400, 1000));
    }

    /** Each chart's number of data points per series, as ECharts holds them. */
    @SuppressWarnings("unchecked")
    private static Map<String, List<Long>> chartPoints() {
        return (Map<String, List<Long>>) ((JavascriptExecutor) browser).executeScript(
                "const out = {};"
                        + "for (const [name, chart] of Object.entries(window.zoo4jCharts)) {"
                        + "  out[name] = chart.getOption().series.map(s => (s.data || []).length);"
                        + "}"
                        + "return out;");
    }

    private static String percent(double v) {
        return String.format(Locale.ROOT, "%.2f%%", 100 * v);
    }

    @Test
    void theRunPageShowsTheRunsOwnAccuracyAndDrawsEveryChart() throws Exception {
        open("run.html?id=" + Catalog.of(List.of(run)).runs().get(0).id());
        JsonNode results = Configs.json().readTree(run.resolve("results.json").toFile());
        List<String> metrics = Files.readAllLines(run.resolve("metrics.csv"));
        double lastValidation = Double.parseDouble(metrics.get(metrics.size() - 1).split(",")[4]);
        assertEquals(percent(results.get("testAccuracy").asDouble()),
                browser.findElement(By.id("test-accuracy")).getText(), "test accuracy as in results.json");
        assertEquals(percent(lastValidation), browser.findElement(By.id("final-validation-accuracy")).getText(),
                "the last epoch's validation accuracy as in metrics.csv");
        assertEquals("2 / 2", browser.findElement(By.id("epoch")).getText());

        Map<String, List<Long>> points = chartPoints();
        assertEquals(java.util.Set.of("epochs", "epoch-rate", "loss", "lr", "ratio", "magnitudes", "throughput",
                "memory"), points.keySet(), "the charts: " + points);
        List<String> statLines = Files.readAllLines(run.resolve("stats.jsonl"));
        long steps = statLines.size() - 1;
        assertTrue(steps >= 5, "stats.jsonl lines: " + steps);
        assertEquals(List.of(2L, 2L, 2L, 1L), points.get("epochs"), "two epochs of loss and accuracy, and the test");
        assertEquals(List.of(steps), points.get("loss"));
        assertEquals(List.of(steps), points.get("lr"));
        assertEquals(List.of(steps), points.get("throughput"));
        assertEquals(List.of(steps, steps), points.get("memory"), "resident and heap");
        List<Long> ratios = points.get("ratio");
        assertEquals(5, ratios.size(), "LeNet-5's five layers with weights: " + ratios);
        assertTrue(ratios.stream().allMatch(n -> n == steps), "every layer at every step: " + ratios);
        assertEquals(10, points.get("magnitudes").size(), "parameter and update of each layer");

        List<WebElement> layerRows = browser.findElements(By.cssSelector("#layers tbody tr"));
        assertTrue(layerRows.size() >= 8, "the describe table: " + layerRows.size());
        assertTrue(browser.findElement(By.id("layers-totals")).getText().contains("trainable parameters: 61,706"));
        assertTrue(browser.findElement(By.id("recipe")).getText().contains("statsEvery: 2"));
        screenshot("run");
    }

    @Test
    void theSweepPageListsEveryTrialOfTheStoreAndDrawsThem() throws Exception {
        open("sweep.html?id=tiny");
        List<SweepStore.Trial> trials = SweepStore.openReadOnly(sweep).trials();
        assertEquals(3, trials.size());
        List<WebElement> rows = browser.findElements(By.cssSelector("#leaderboard tbody tr"));
        assertEquals(trials.size(), rows.size());
        String board = browser.findElement(By.id("leaderboard")).getText();
        for (SweepStore.Trial t : trials) {
            assertTrue(board.contains(String.format(Locale.ROOT, "%04d", t.number())), "trial " + t.number()
                    + " listed: " + board);
            assertTrue(board.contains(t.state().name().toLowerCase(Locale.ROOT)), board);
        }
        Map<String, List<Long>> points = chartPoints();
        long withValue = trials.stream().filter(t -> t.value() != null).count();
        assertEquals(withValue, points.get("objective").subList(0, points.get("objective").size() - 1).stream()
                .mapToLong(Long::longValue).sum(), "one point per trial with a value: " + points);
        assertEquals(3, points.get("objective").get(points.get("objective").size() - 1), "the best-so-far line");
        assertEquals(3, points.get("curves").size(), "a learning curve per trial");
        assertEquals(List.of(withValue), points.get("parallel"));
        assertTrue(points.containsKey("param:overrides.updater.learningRate") && points.containsKey(
                "param:data.batchSize"), points.keySet().toString());
        long pruned = trials.stream().filter(t -> t.state() == SweepStore.State.PRUNED).count();
        Object rungs = ((JavascriptExecutor) browser).executeScript(
                "return window.zoo4jCharts.curves.getOption().series[0].markLine.data.length");
        assertEquals(1L, rungs, "ASHA's rung at epoch 1 of 2 is marked (" + pruned + " trials pruned)");
        screenshot("sweep");

        // A trial is one click away: its run page, with the sweep to go back to.
        browser.findElement(By.cssSelector("#leaderboard tbody tr:first-child td:nth-child(2) a")).click();
        new WebDriverWait(browser, Duration.ofSeconds(20)).until(b -> b.findElement(By.id("crumbs")).getText()
                .contains("sweep tiny"));
        new WebDriverWait(browser, Duration.ofSeconds(20)).until(b -> !b.findElement(By.id("test-accuracy")).getText()
                .equals("–"));
        screenshot("trial");
    }

    @Test
    void theIndexListsTheRunAndTheSweep() throws Exception {
        open("index.html");
        String runs = browser.findElement(By.id("runs")).getText();
        String sweeps = browser.findElement(By.id("sweeps")).getText();
        assertTrue(runs.contains("lenet5-run") && runs.contains("completed"), runs);
        assertTrue(sweeps.contains("tiny"), sweeps);
        screenshot("index");
    }
}
