package org.zoo4j.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code zoo4j} command line. Each sub-command is one class in this package. */
@Command(name = "zoo4j", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "A model zoo for Java on Deeplearning4j: classic CNNs, data, training, sweeps and transfer.",
        subcommands = {ListCommand.class, DescribeCommand.class, DataCommand.class, TrainCommand.class,
                FinetuneCommand.class, EvalCommand.class, PredictCommand.class, InfoCommand.class,
                WeightsCommand.class, BenchCommand.class, SweepCommand.class, VisualizeCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns its exit code (tests call this instead of main). */
    public static int run(String... args) {
        CommandLine cli = new CommandLine(new Main());
        cli.setExecutionExceptionHandler(new ErrorHandler());
        return cli.execute(args);
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** Turns expected failures (bad input) into one clear line and exit code 2, everything else into 1. */
    static final class ErrorHandler implements CommandLine.IExecutionExceptionHandler {
        @Override
        public int handleExecutionException(Exception e, CommandLine cmd, CommandLine.ParseResult parsed) {
            if (e instanceof IllegalArgumentException || e instanceof java.io.FileNotFoundException
                    || e instanceof java.nio.file.NoSuchFileException || e instanceof UserError) {
                cmd.getErr().println("zoo4j " + cmd.getCommandName() + ": " + e.getMessage());
                return 2;
            }
            cmd.getErr().println("zoo4j " + cmd.getCommandName() + ": failed: " + e);
            e.printStackTrace(cmd.getErr());
            return 1;
        }
    }

    /** A failure the user can fix, reported as one line without a stack trace. */
    public static class UserError extends RuntimeException {
        public UserError(String message) {
            super(message);
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
