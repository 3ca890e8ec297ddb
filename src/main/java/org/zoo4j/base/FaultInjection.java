package org.zoo4j.base;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Named points where a fault-injection test kills the process, as {@code kill -9} would: the JVM halts without
 * running shutdown hooks or finally blocks. Inert unless the system property {@value #PROPERTY} is
 * {@code NAME:COUNT}, which halts the process (exit code {@value #EXIT_CODE}) the COUNT-th time point NAME is
 * reached. The points are where a kill can hurt most: inside each step of writing checkpoints and results.
 */
public final class FaultInjection {
    public static final String PROPERTY = "zoo4j.crashAt";
    public static final int EXIT_CODE = 137;

    private static final String NAME;
    private static final int COUNT;
    private static final AtomicInteger HITS = new AtomicInteger();

    static {
        String setting = System.getProperty(PROPERTY);
        int colon = setting == null ? -1 : setting.lastIndexOf(':');
        NAME = colon > 0 ? setting.substring(0, colon) : setting;
        COUNT = colon > 0 ? Integer.parseInt(setting.substring(colon + 1)) : 1;
    }

    private FaultInjection() {
    }

    /** Halts the process here if the test asked for this point and this is the hit it asked for. */
    public static void point(String name) {
        if (NAME != null && NAME.equals(name) && HITS.incrementAndGet() == COUNT) {
            System.err.println("fault injection: halting at " + name + " (hit " + COUNT + ")");
            System.err.flush();
            Runtime.getRuntime().halt(EXIT_CODE);
        }
    }
}
