package org.zoo4j.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.zoo4j.dashboard.Catalog;
import org.zoo4j.dashboard.DashboardServer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code zoo4j ui [RUN_OR_SWEEP ...]}: the live dashboard of runs and sweeps in the browser. */
@Command(name = "ui", mixinStandardHelpOptions = true,
        description = {"Serve a live dashboard of training runs and sweeps on http://127.0.0.1:"
                + DashboardServer.DEFAULT_PORT + "/ (it prints the address): loss, accuracy, learning rate, "
                + "per-layer parameter and update magnitudes, throughput, memory and the layer table of each run; "
                + "the leaderboard, learning curves, pruning rungs and parameter plots of each sweep. It reads the "
                + "directories and writes nothing. Per-step charts need stats.jsonl: train with --ui, or set "
                + "statsEvery in the recipe.",
                "Examples:", "  ./zoo4j ui", "  ./zoo4j ui runs/lenet5-fashion-mnist-20260101-120000",
                "  ./zoo4j ui runs/sweeps/lenet5-lr --port 9000"},
        footer = {"Stops with Ctrl-C. Exit codes: 2 bad input (a path that is neither a run nor a sweep directory, "
                + "a port in use, a --bind address that is not local without --expose)."})
final class UiCommand implements Callable<Integer> {
    @Parameters(arity = "0..*", paramLabel = "RUN_OR_SWEEP", description = "run or sweep directories (default: every "
            + "run in --dir and every sweep in DIR/sweeps, including ones started later)")
    List<Path> dirs = new ArrayList<>();

    @Option(names = "--dir", paramLabel = "DIR", defaultValue = "runs", description = "where runs live (default runs)")
    Path root;

    @Mixin
    DashboardOptions options = new DashboardOptions();

    @Override
    public Integer call() throws InterruptedException {
        Catalog catalog = dirs.isEmpty() ? Catalog.scanning(root) : Catalog.of(dirs);
        try (DashboardServer server = options.start(catalog)) {
            System.out.println("zoo4j dashboard: " + server.address() + " (" + catalog.runs().size() + " runs, "
                    + catalog.sweeps().size() + " sweeps" + (dirs.isEmpty() ? " in " + root + ", looked for again "
                    + "on every page load" : "") + "); Ctrl-C stops it");
            new CountDownLatch(1).await(); // until Ctrl-C ends the JVM
        }
        return 0;
    }
}
