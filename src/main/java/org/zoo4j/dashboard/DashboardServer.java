package org.zoo4j.dashboard;

import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.BindException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.net.URI;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.zoo4j.base.ConfigException;
import org.zoo4j.base.Configs;

/**
 * The dashboard: a small web server (the JDK's {@code com.sun.net.httpserver}) with three pages (runs and sweeps,
 * one run, one sweep) that poll JSON endpoints, and Apache ECharts served from its WebJar, so that nothing comes from
 * the network. Endpoints, all GET:
 * <pre>
 *   /api/index                      the runs and sweeps of the {@link Catalog}, one line each
 *   /api/run?id=ID&amp;after=STEP       a run: recipe, epochs, results, layer table, log, stats.jsonl lines after STEP
 *   /api/file?run=ID&amp;name=NAME      one of a run's files ({@link RunView#FILES}: recipe.yaml, train.log, plots, ...)
 *   /api/sweep?id=ID                a sweep: leaderboard, learning curves, rungs, parameters
 * </pre>
 * It reads run directories and sweep stores and writes nothing: any method but GET and HEAD is refused (405), ids are
 * looked up in the catalog rather than read as paths, and only the named files of a run are served. It listens on
 * 127.0.0.1 unless told otherwise, and then checks the Host header, so that a web page elsewhere cannot read it by
 * rebinding a domain name to 127.0.0.1.
 */
public final class DashboardServer implements AutoCloseable {
    public static final int DEFAULT_PORT = 8642;
    public static final String DEFAULT_BIND = "127.0.0.1";
    /** ECharts inside its WebJar (org.webjars.npm:echarts, the version in the pom). */
    static final String ECHARTS = "META-INF/resources/webjars/echarts/5.3.1/dist/echarts.min.js";

    private static final ObjectWriter JSON = Configs.json().writer().without(SerializationFeature.INDENT_OUTPUT);
    private static final Map<String, String> PAGES = Map.of(
            "/index.html", "text/html; charset=utf-8",
            "/run.html", "text/html; charset=utf-8",
            "/sweep.html", "text/html; charset=utf-8",
            "/dashboard.css", "text/css; charset=utf-8",
            "/dashboard.js", "text/javascript; charset=utf-8",
            "/index.js", "text/javascript; charset=utf-8",
            "/run.js", "text/javascript; charset=utf-8",
            "/sweep.js", "text/javascript; charset=utf-8",
            "/echarts.min.js", "text/javascript; charset=utf-8");
    private static final String SECURITY_POLICY = "default-src 'self'; script-src 'self'; style-src 'self' "
            + "'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
            + "form-action 'none'";

    private final Catalog catalog;
    private final HttpServer server;
    private final ExecutorService threads;
    private final URI address;
    /** Host headers accepted, or null when the server is exposed on purpose (any name may reach it). */
    private final Set<String> hosts;
    private final Map<String, byte[]> resources = new ConcurrentHashMap<>();
    private final Map<Path, RunView> runs = new ConcurrentHashMap<>();
    private final Map<Path, SweepView> sweeps = new ConcurrentHashMap<>();

    private DashboardServer(Catalog catalog, HttpServer server, ExecutorService threads, InetAddress bound,
                            boolean exposed) {
        this.catalog = catalog;
        this.server = server;
        this.threads = threads;
        int port = server.getAddress().getPort();
        String host = bound.isAnyLocalAddress() ? "127.0.0.1" : bound instanceof Inet6Address
                ? "[" + bound.getHostAddress() + "]" : bound.getHostAddress();
        this.address = URI.create("http://" + host + ":" + port + "/");
        this.hosts = exposed ? null : new HashSet<>(List.of("127.0.0.1:" + port, "localhost:" + port,
                "[::1]:" + port, host.toLowerCase(Locale.ROOT) + ":" + port));
    }

    /**
     * Serves {@code catalog} on {@code bind}:{@code port} (0 picks a free port). {@code bind} must be an IP address
     * of this machine; one that other machines can reach (anything but a loopback address) needs {@code expose}, as
     * the dashboard has no authentication. A port in use or a bad address is a {@link ConfigException}.
     */
    public static DashboardServer start(Catalog catalog, String bind, int port, boolean expose) {
        if (port < 0 || port > 65535) {
            throw new ConfigException("--port: 0 to 65535 (0 = any free port), got " + port);
        }
        InetAddress address = address(bind);
        boolean local = address.isLoopbackAddress();
        if (!local && !address.isAnyLocalAddress() && !isOwnAddress(address)) {
            throw new ConfigException("--bind " + bind + ": not an address of this machine (its addresses: "
                    + String.join(", ", ownAddresses()) + ")");
        }
        if (!local && !expose) {
            throw new ConfigException("--bind " + bind + " would let other machines read your runs: the dashboard "
                    + "has no authentication. Add --expose if that is what you want, or leave --bind out for "
                    + DEFAULT_BIND);
        }
        AtomicInteger n = new AtomicInteger();
        ExecutorService threads = Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r, "zoo4j-dashboard-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        HttpServer http;
        try {
            http = HttpServer.create(new InetSocketAddress(address, port), 0);
        } catch (BindException e) {
            threads.shutdown();
            throw new ConfigException("--port " + port + ": " + address.getHostAddress() + ":" + port + " is in use "
                    + "(another dashboard?); choose another --port, or --port 0 for any free one");
        } catch (IOException e) {
            threads.shutdown();
            throw new UncheckedIOException("could not start the dashboard on " + bind + ":" + port, e);
        }
        DashboardServer dashboard = new DashboardServer(catalog, http, threads, address, !local);
        http.createContext("/", dashboard::handle);
        http.setExecutor(threads);
        http.start();
        return dashboard;
    }

    private static InetAddress address(String bind) {
        String text = bind == null ? DEFAULT_BIND : bind.trim();
        // Literal addresses only (and localhost): a name would need a DNS look-up, and might not mean this machine.
        if (!text.equals("localhost") && !text.matches("[0-9.]+|\\[?[0-9A-Fa-f:.]+(%\\w+)?]?")) {
            throw new ConfigException("--bind: an IP address such as 127.0.0.1, ::1 or 0.0.0.0, got '" + bind + "'");
        }
        try {
            return InetAddress.getByName(text.replace("[", "").replace("]", ""));
        } catch (UnknownHostException e) {
            throw new ConfigException("--bind: not an IP address: '" + bind + "'");
        }
    }

    private static boolean isOwnAddress(InetAddress address) {
        try {
            return NetworkInterface.getByInetAddress(address) != null;
        } catch (SocketException e) {
            return false;
        }
    }

    private static List<String> ownAddresses() {
        List<String> all = new ArrayList<>();
        try {
            for (NetworkInterface ni : Collections.list(NetworkInterface.getNetworkInterfaces())) {
                Collections.list(ni.getInetAddresses()).forEach(a -> all.add(a.getHostAddress()));
            }
        } catch (SocketException e) {
            // none listed
        }
        return all;
    }

    /** Where the dashboard is: http://127.0.0.1:PORT/ (the address it listens on, 127.0.0.1 for all of them). */
    public URI address() {
        return address;
    }

    /** The address of the page of the run with this id. */
    public URI runPage(String id) {
        return address.resolve("run.html?id=" + URLEncoder.encode(id, StandardCharsets.UTF_8));
    }

    public Catalog catalog() {
        return catalog;
    }

    @Override
    public void close() {
        server.stop(0);
        threads.shutdownNow();
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            ex.getResponseHeaders().set("X-Content-Type-Options", "nosniff");
            ex.getResponseHeaders().set("Referrer-Policy", "no-referrer");
            ex.getResponseHeaders().set("Content-Security-Policy", SECURITY_POLICY);
            String method = ex.getRequestMethod();
            if (!method.equals("GET") && !method.equals("HEAD")) {
                ex.getResponseHeaders().set("Allow", "GET, HEAD");
                send(ex, 405, "text/plain; charset=utf-8", bytes("405 method not allowed: the dashboard only reads"));
                return;
            }
            String host = ex.getRequestHeaders().getFirst("Host");
            if (hosts != null && (host == null || !hosts.contains(host.toLowerCase(Locale.ROOT)))) {
                send(ex, 403, "text/plain; charset=utf-8", bytes("403: unexpected Host header " + host));
                return;
            }
            String path = ex.getRequestURI().getRawPath();
            Map<String, String> query = query(ex.getRequestURI().getRawQuery());
            switch (path) {
                case "/api/index" -> json(ex, index());
                case "/api/run" -> run(ex, query);
                case "/api/file" -> file(ex, query);
                case "/api/sweep" -> sweep(ex, query);
                default -> page(ex, path.equals("/") ? "/index.html" : path);
            }
        } catch (IOException | RuntimeException e) {
            try {
                send(ex, 500, "text/plain; charset=utf-8", bytes("500: " + e));
            } catch (IOException | RuntimeException ignored) {
                // the response had begun; the connection is closed
            }
        }
    }

    private Map<String, Object> index() throws IOException {
        Map<String, Object> index = new LinkedHashMap<>();
        List<Map<String, Object>> runList = new ArrayList<>();
        for (Catalog.Entry e : catalog.runs()) {
            Map<String, Object> line = new LinkedHashMap<>();
            line.put("id", e.id());
            line.putAll(runView(e.dir()).summary());
            runList.add(line);
        }
        List<Map<String, Object>> sweepList = new ArrayList<>();
        for (Catalog.Entry e : catalog.sweeps()) {
            Map<String, Object> line = new LinkedHashMap<>();
            line.put("id", e.id());
            try {
                line.putAll(sweepView(e.dir()).summary());
            } catch (IOException | RuntimeException ex) {
                line.put("name", e.dir().getFileName().toString());
                line.put("error", ex.getMessage());
            }
            sweepList.add(line);
        }
        index.put("runs", runList);
        index.put("sweeps", sweepList);
        return index;
    }

    private void run(HttpExchange ex, Map<String, String> query) throws IOException {
        String id = query.get("id");
        Path dir = catalog.run(id);
        if (dir == null) {
            notFound(ex, "no run with id " + id);
            return;
        }
        long after;
        try {
            after = Long.parseLong(query.getOrDefault("after", "-1"));
        } catch (NumberFormatException e) {
            send(ex, 400, "text/plain; charset=utf-8", bytes("400: after: a step number"));
            return;
        }
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("id", id);
        int slash = id.indexOf('/');
        if (slash > 0) {
            d.put("sweep", id.substring(0, slash));
            d.put("trial", Integer.parseInt(id.substring(slash + 1)));
        }
        d.putAll(runView(dir).detail(after));
        json(ex, d);
    }

    private void file(HttpExchange ex, Map<String, String> query) throws IOException {
        String id = query.get("run");
        String name = query.get("name");
        Path dir = catalog.run(id);
        String type = name == null ? null : RunView.FILES.get(name);
        if (dir == null || type == null) {
            notFound(ex, dir == null ? "no run with id " + id : "not a file the dashboard serves: " + name
                    + " (it serves " + String.join(", ", RunView.FILES.keySet().stream().sorted().toList()) + ")");
            return;
        }
        Path file = dir.resolve(name);
        // A link inside the run that points elsewhere is not followed out of it.
        if (!Files.isRegularFile(file) || !file.toRealPath().startsWith(dir.toRealPath())) {
            notFound(ex, name + ": not in run " + id);
            return;
        }
        send(ex, 200, type, Files.readAllBytes(file));
    }

    private void sweep(HttpExchange ex, Map<String, String> query) throws IOException {
        String id = query.get("id");
        Path dir = catalog.sweep(id);
        if (dir == null) {
            notFound(ex, "no sweep with id " + id);
            return;
        }
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("id", id);
        d.putAll(sweepView(dir).detail(id));
        json(ex, d);
    }

    private void page(HttpExchange ex, String path) throws IOException {
        String type = PAGES.get(path);
        if (type == null) {
            notFound(ex, "no page " + path);
            return;
        }
        byte[] content = resources.computeIfAbsent(path, p -> {
            String resource = p.equals("/echarts.min.js") ? ECHARTS : "org/zoo4j/dashboard/web" + p;
            try (InputStream in = DashboardServer.class.getClassLoader().getResourceAsStream(resource)) {
                if (in == null) {
                    throw new IllegalStateException("resource missing from the jar: " + resource);
                }
                return in.readAllBytes();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        ex.getResponseHeaders().set("Cache-Control", "no-cache");
        send(ex, 200, type, content);
    }

    private RunView runView(Path dir) {
        return runs.computeIfAbsent(dir, RunView::new);
    }

    private SweepView sweepView(Path dir) {
        return sweeps.computeIfAbsent(dir, SweepView::new);
    }

    private static void json(HttpExchange ex, Object value) throws IOException {
        ex.getResponseHeaders().set("Cache-Control", "no-store");
        send(ex, 200, "application/json; charset=utf-8", JSON.writeValueAsBytes(value));
    }

    private static void notFound(HttpExchange ex, String message) throws IOException {
        ex.getResponseHeaders().set("Cache-Control", "no-store");
        send(ex, 404, "application/json; charset=utf-8", JSON.writeValueAsBytes(Map.of("error", message)));
    }

    private static void send(HttpExchange ex, int status, String type, byte[] body) throws IOException {
        ex.getResponseHeaders().set("Content-Type", type);
        boolean head = ex.getRequestMethod().equals("HEAD");
        ex.sendResponseHeaders(status, head ? -1 : body.length == 0 ? -1 : body.length);
        if (!head && body.length > 0) {
            try (OutputStream out = ex.getResponseBody()) {
                out.write(body);
            }
        }
    }

    private static byte[] bytes(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    private static Map<String, String> query(String raw) {
        Map<String, String> q = new LinkedHashMap<>();
        if (raw == null || raw.isEmpty()) {
            return q;
        }
        for (String pair : raw.split("&")) {
            int eq = pair.indexOf('=');
            String key = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
            String value = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
            q.putIfAbsent(key, value);
        }
        return q;
    }
}
