package org.zoo4j.cli;

import java.util.Set;
import org.zoo4j.base.UserInputException;
import org.zoo4j.runtime.Backend;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code zoo4j} command line. Each sub-command is one class in this package. */
@Command(name = "zoo4j", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "A model zoo for Java on Deeplearning4j: classic CNNs, data, training, sweeps and transfer.",
        subcommands = {ListCommand.class, DescribeCommand.class, DataCommand.class, TrainCommand.class,
                FinetuneCommand.class, EvalCommand.class, PredictCommand.class, InfoCommand.class,
                WeightsCommand.class, BenchCommand.class, SweepCommand.class, VisualizeCommand.class, UiCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    /**
     * Sub-commands that only read configurations, cards and run files: they start without loading the native backend.
     */
    private static final Set<String> WITHOUT_BACKEND = Set.of("zoo4j", "list", "describe", "help", "ui");

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns its exit code (tests call this instead of main). */
    public static int run(String... args) {
        return commandLine().execute(args);
    }

    /** The command line as {@link #run} executes it: error handling, native start-up, enum options in any case. */
    public static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new Main()).setCaseInsensitiveEnumValuesAllowed(true);
        cli.setExecutionExceptionHandler(new ErrorHandler());
        cli.setExecutionStrategy(parsed -> {
            CommandLine last = parsed.asCommandLineList().get(parsed.asCommandLineList().size() - 1);
            boolean helpOnly = parsed.asCommandLineList().stream().anyMatch(c -> c.isUsageHelpRequested()
                    || c.isVersionHelpRequested());
            if (!helpOnly && !WITHOUT_BACKEND.contains(last.getCommandName())) {
                try {
                    Backend.init(); // once, before any command that computes
                } catch (RuntimeException e) { // a bad -Dzoo4j.* switch is the user's, as in a command
                    return new ErrorHandler().handleExecutionException(e, last, parsed);
                }
            }
            return new CommandLine.RunLast().execute(parsed);
        });
        return cli;
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /**
     * A {@link UserInputException} (bad input the user can fix) becomes one line and exit code 2; anything else is a
     * bug, reported with its stack trace and exit code 1.
     */
    static final class ErrorHandler implements CommandLine.IExecutionExceptionHandler {
        @Override
        public int handleExecutionException(Exception e, CommandLine cmd, CommandLine.ParseResult parsed) {
            if (e instanceof UserInputException) {
                cmd.getErr().println("zoo4j " + cmd.getCommandName() + ": " + e.getMessage());
                return 2;
            }
            cmd.getErr().println("zoo4j " + cmd.getCommandName() + ": failed: " + e);
            e.printStackTrace(cmd.getErr());
            return 1;
        }
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"zoo4j " + (v == null ? "(development build)" : v)};
        }
    }
}
