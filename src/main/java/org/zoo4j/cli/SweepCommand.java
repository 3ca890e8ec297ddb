package org.zoo4j.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.zoo4j.base.ConfigException;
import org.zoo4j.sweep.DistributedSweep;
import org.zoo4j.sweep.Sweep;
import org.zoo4j.sweep.SweepReport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code zoo4j sweep FILE | --resume NAME | report NAME}: hyperparameter search over a training recipe. */
@Command(name = "sweep", mixinStandardHelpOptions = true, subcommands = SweepCommand.Report.class,
        description = {"Search a recipe's hyperparameters: trials from a sweep file (see training/sweeps/), with "
                + "random, grid, genetic or TPE sampling and ASHA or median pruning; state kept in SQLite.",
                "Examples:", "  ./zoo4j sweep training/sweeps/lenet5-lr.yaml",
                "  ./zoo4j sweep training/sweeps/lenet5-lr.yaml --parallel 2",
                "  ./zoo4j sweep training/sweeps/lenet5-lr.yaml --spark 'local[2]'   (Spark build)",
                "  ./zoo4j sweep --resume lenet5-lr", "  ./zoo4j sweep report lenet5-lr"},
        footer = {"A sweep lives in DIR/NAME (default runs/sweeps/NAME): sweep.db, trials/NNNN (normal run "
                + "directories), report.html. Killed at any moment, --resume continues it: no finished trial is lost "
                + "or run again. Exit codes: 0 done, 2 bad input."})
final class SweepCommand implements Callable<Integer> {
    @Parameters(index = "0", arity = "0..1", paramLabel = "SWEEP", description = "sweep file (YAML)")
    Path file;

    @Option(names = "--resume", paramLabel = "NAME", description = "continue the sweep NAME (or the sweep directory)")
    String resume;

    @Option(names = "--parallel", paramLabel = "N", defaultValue = "1",
            description = "trials at once, each in its own process with 1/N of the CPU threads (or one GPU each)")
    int parallel;

    @Option(names = "--spark", paramLabel = "MASTER", description = "run each trial as a task on Spark: local[N], "
            + "spark://HOST:PORT, yarn or k8s://...; the sweep directory must be on a filesystem every worker shares. "
            + "Needs the Spark build: ZOO4J_MVN_ARGS=-Pspark ./zoo4j ...")
    String spark;

    @Option(names = "--dir", paramLabel = "DIR", defaultValue = "runs/sweeps", description = "where sweeps live")
    Path root;

    @Override
    public Integer call() throws Exception {
        if ((file == null) == (resume == null)) {
            throw new ConfigException("give a sweep file or --resume NAME (one of the two); see --help");
        }
        if (spark != null && parallel != 1) {
            throw new ConfigException("--spark runs as many trials at once as the cluster has task slots; give no "
                    + "--parallel with it");
        }
        if (spark != null) {
            DistributedSweep.find(); // before anything is written
        }
        Sweep sweep = file != null ? Sweep.create(file, root) : Sweep.open(locate(root, resume));
        System.out.println("sweep " + sweep.spec().name() + " in " + sweep.dir());
        if (spark != null) {
            sweep.runDistributed(spark, System.out);
        } else {
            sweep.run(parallel, System.out);
        }
        return 0;
    }

    static Path locate(Path root, String name) {
        Path direct = Path.of(name);
        return Files.isRegularFile(direct.resolve("sweep.db")) ? direct : root.resolve(name);
    }

    @Command(name = "report", mixinStandardHelpOptions = true,
            description = {"Print a sweep's leaderboard and write its report: best-recipe.yaml, PNG plots, report.html.",
                    "Example:", "  ./zoo4j sweep report lenet5-lr"})
    static final class Report implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "NAME", description = "the sweep's name (or its directory)")
        String name;

        @Option(names = "--dir", paramLabel = "DIR", defaultValue = "runs/sweeps", description = "where sweeps live")
        Path root;

        @Override
        public Integer call() throws Exception {
            SweepReport.write(Sweep.open(locate(root, name)), System.out);
            return 0;
        }
    }
}
