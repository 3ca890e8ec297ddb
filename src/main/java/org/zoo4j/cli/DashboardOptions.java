package org.zoo4j.cli;

import org.zoo4j.dashboard.Catalog;
import org.zoo4j.dashboard.DashboardServer;
import picocli.CommandLine.Option;

/** Where the dashboard listens: shared by {@code ui} and {@code train --ui}. */
final class DashboardOptions {
    @Option(names = "--port", paramLabel = "N", description = "the dashboard's port (default "
            + DashboardServer.DEFAULT_PORT + "; 0 = any free one)")
    Integer port;

    @Option(names = "--bind", paramLabel = "ADDRESS", description = "the IP address to listen on (default "
            + DashboardServer.DEFAULT_BIND + ": this machine only). WARNING: an address other machines can reach "
            + "(needs --expose too) lets anyone who reaches it read your runs, sweeps and logs: the dashboard has no "
            + "authentication and no encryption")
    String bind;

    @Option(names = "--expose", description = "allow --bind to an address other machines can reach (see the warning "
            + "at --bind)")
    boolean expose;

    boolean given() {
        return port != null || bind != null || expose;
    }

    /** Starts the dashboard on these settings; a port in use or a bad address is a ConfigException. */
    DashboardServer start(Catalog catalog) {
        return DashboardServer.start(catalog, bind == null ? DashboardServer.DEFAULT_BIND : bind,
                port == null ? DashboardServer.DEFAULT_PORT : port, expose);
    }
}
