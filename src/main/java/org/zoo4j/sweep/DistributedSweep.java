package org.zoo4j.sweep;

import java.io.IOException;
import java.io.PrintStream;
import java.util.Iterator;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import org.zoo4j.base.ConfigException;

/**
 * A sweep whose trials run as tasks on a cluster ({@code ./zoo4j sweep FILE --spark MASTER}): the Spark build
 * ({@code -Pspark}) provides one ({@code org.zoo4j.spark}, found through {@link ServiceLoader}); the plain build has
 * none, and such a sweep is then refused with the build flag to use.
 *
 * <p>The sampler and the store stay in this process (the driver), which claims trials ({@link Sweep#claim}), hands each
 * to an executor ({@link Sweep#train} runs there), answers the executors' epoch reports with pruning decisions through
 * {@link TrialMailbox}, and stores the outcomes ({@link Sweep#record}).
 */
public interface DistributedSweep {
    /** What to do without the Spark build. */
    String HINT = "build zoo4j with Spark: ZOO4J_MVN_ARGS=-Pspark ./zoo4j ... (Maven: mvn -Pspark package)";

    /** Runs {@code sweep}'s trials on {@code master} until the budget, the deadline or the candidates are used up. */
    void run(Sweep sweep, String master, long deadline, PrintStream console) throws IOException, InterruptedException;

    /** The build's implementation; a {@link ConfigException} naming the build flag when there is none. */
    static DistributedSweep find() {
        try {
            Iterator<DistributedSweep> it = ServiceLoader.load(DistributedSweep.class).iterator();
            if (!it.hasNext()) {
                throw new ConfigException("--spark: this zoo4j build cannot run sweeps on Spark; " + HINT);
            }
            return it.next();
        } catch (ServiceConfigurationError | LinkageError e) {
            throw new ConfigException("--spark: this zoo4j build's Spark support is incomplete (" + e.getMessage()
                    + "); rebuild it: " + HINT, e);
        }
    }
}
