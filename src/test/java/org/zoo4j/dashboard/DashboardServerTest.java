package org.zoo4j.dashboard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.zoo4j.base.ConfigException;
import org.zoo4j.base.Configs;
import org.zoo4j.cli.Main;
import org.zoo4j.sweep.SweepStore;

/**
 * The dashboard's server without a browser: its JSON endpoints on a run and a sweep built here, the files it serves
 * and the ones it refuses, that it only reads (every other method refused, nothing changed), and the bad input of
 * its command line.
 */
class DashboardServerTest {
    @TempDir
    static Path dir;

    private static Path run;
    private static Path sweep;
    private static DashboardServer server;
    private static String runId;
    private static String sweepId;

    @BeforeAll
    static void start() throws IOException {
        run = Files.createDirectories(dir.resolve("runs").resolve("lenet5-fashion-mnist-20260101-120000"));
        Files.writeString(run.resolve("recipe.yaml"), """
                model: lenet5
                overrides:
                  updater: {name: adam, learningRate: 0.002}
                data: {dataset: fashion-mnist, batchSize: 64, subset: 600}
                epochs: 2
                statsEvery: 2
                """);
        Files.writeString(run.resolve("metrics.csv"), """
                epoch,learning_rate,train_loss,validation_loss,validation_accuracy,seconds,images_per_second
                1,0.00200000,1.500000,1.100000,0.610000,3.10,1500.0
                2,0.00200000,0.900000,NaN,0.715000,2.90,1600.0
                """);
        Files.writeString(run.resolve("results.json"), """
                {"status": "completed", "epochs": 2, "bestEpoch": 2, "testImages": 600, "testAccuracy": 0.7,
                 "testLoss": 0.8, "trainSeconds": 6.0}
                """);
        Files.writeString(run.resolve("train.log"), "2026-01-01T12:00:00 run x: lenet5 on fashion-mnist\n");
        Files.writeString(run.resolve("stats.jsonl"), String.join("\n",
                "{\"type\":\"start\",\"step\":0,\"every\":2,\"workers\":1,\"outputs\":10,\"network\":[]}",
                step(2, 1, 2.1), step(4, 1, 1.7), step(6, 2, 1.2), step(4, 1, 1.65),
                "{\"type\":\"step\",\"step\":6,\"ep") /* a line still being written */);

        sweep = Files.createDirectories(dir.resolve("runs").resolve("sweeps").resolve("tiny"));
        SweepStore store = SweepStore.open(sweep);
        store.putMeta("objective", "validationAccuracy");
        double[][] values = {{0.5, 0.6}, {0.7, 0.8}, {0.4}};
        SweepStore.State[] states = {SweepStore.State.COMPLETE, SweepStore.State.COMPLETE, SweepStore.State.PRUNED};
        for (int t = 0; t < 3; t++) {
            double lr = 0.001 * (t + 1);
            int number = store.claim(3, (n, all) -> Map.entry(new double[] {lr},
                    Map.of("overrides.updater.learningRate", String.valueOf(lr)))).trial().number();
            for (int e = 0; e < values[t].length; e++) {
                store.report(number, e + 1, values[t][e], values[t][e]);
            }
            Files.createDirectories(Catalog.trialDir(sweep, number));
            Files.writeString(Catalog.trialDir(sweep, number).resolve("recipe.yaml"), "model: lenet5\n");
            store.finish(number, states[t], null, states[t] == SweepStore.State.COMPLETE ? values[t][1] - 0.01 : null,
                    states[t] == SweepStore.State.PRUNED ? "ASHA rung at epoch 1" : null, 5.0);
        }
        server = DashboardServer.start(Catalog.scanning(dir.resolve("runs")), "127.0.0.1", 0, false);
        runId = run.getFileName().toString();
        sweepId = "tiny";
    }

    private static String step(int step, int epoch, double loss) {
        return "{\"type\":\"step\",\"step\":" + step + ",\"epoch\":" + epoch + ",\"loss\":" + loss + ",\"lr\":0.002,"
                + "\"imagesPerSecond\":1500.0,\"heapBytes\":1000,\"rssBytes\":2000,"
                + "\"layers\":[{\"name\":\"conv1\",\"param\":0.1,\"update\":0.0001,\"log10Ratio\":-3.0}]}";
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    /** A raw HTTP/1.1 request, so that paths and headers go out exactly as written. */
    private static Response request(String method, String target, String host) throws IOException {
        int port = server.address().getPort();
        try (Socket socket = new Socket("127.0.0.1", port)) {
            OutputStream out = socket.getOutputStream();
            String body = method.equals("POST") || method.equals("PUT") ? "x=1" : "";
            out.write((method + " " + target + " HTTP/1.1\r\nHost: " + (host != null ? host : "127.0.0.1:" + port)
                    + "\r\nConnection: close\r\nContent-Length: " + body.length() + "\r\n\r\n" + body)
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = socket.getInputStream();
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            in.transferTo(all);
            String text = all.toString(StandardCharsets.UTF_8);
            int split = text.indexOf("\r\n\r\n");
            String head = split < 0 ? text : text.substring(0, split);
            int status = Integer.parseInt(head.substring(9, 12));
            return new Response(status, head, split < 0 ? "" : text.substring(split + 4));
        }
    }

    private record Response(int status, String head, String body) {
        JsonNode json() throws IOException {
            return Configs.json().readTree(body);
        }
    }

    private static Response get(String target) throws IOException {
        return request("GET", target, null);
    }

    @Test
    void theIndexListsTheRunsAndSweepsOfTheFolder() throws Exception {
        Response r = get("/api/index");
        assertEquals(200, r.status());
        assertTrue(r.head().contains("application/json"), r.head());
        JsonNode index = r.json();
        JsonNode line = null;
        for (JsonNode r2 : index.get("runs")) {
            line = r2.get("id").asText().equals(runId) ? r2 : line;
        }
        assertTrue(line != null, "the run is listed: " + index);
        assertEquals("lenet5", line.get("model").asText());
        assertEquals("completed", line.get("status").asText());
        assertEquals(2, line.get("epochsDone").asInt());
        assertEquals(0.7, line.get("testAccuracy").asDouble(), 1e-12);
        JsonNode s = index.get("sweeps").get(0);
        assertEquals("tiny", s.get("id").asText());
        assertEquals(3, s.get("trials").asInt());
        assertEquals(0.8, s.get("best").asDouble(), 1e-12);
        assertEquals(1, s.get("bestTrial").asInt());
    }

    @Test
    void aRunGivesItsEpochsResultsLayersAndOnlyTheStepsAskedFor() throws Exception {
        JsonNode d = get("/api/run?id=" + runId).json();
        assertEquals(2, d.get("epochs").size());
        assertEquals(0.715, d.get("epochs").get(1).get("validationAccuracy").asDouble(), 1e-12);
        assertTrue(d.get("epochs").get(1).get("validationLoss").isNull(), "NaN becomes null");
        assertEquals(0.7, d.get("results").get("testAccuracy").asDouble(), 1e-12);
        assertEquals(2, d.get("statsEvery").asInt());
        // Step 6 of the first attempt is replaced by the resumed run's step 4; the half line is not read yet.
        List<Integer> steps = new ArrayList<>();
        d.get("stats").forEach(s -> steps.add(s.get("step").asInt()));
        assertEquals(List.of(2, 4), steps);
        assertEquals(1.65, d.get("stats").get(1).get("loss").asDouble(), 1e-12, "the later line for a step wins");
        assertEquals(1, get("/api/run?id=" + runId + "&after=2").json().get("stats").size());

        JsonNode layers = d.get("layers");
        assertEquals("describe", layers.get("source").asText());
        assertEquals("61,706", layers.get("trainable").asText(), "LeNet-5 with 10 classes, as describe counts it");
        assertEquals("input", layers.get("rows").get(0).get("name").asText());
        assertTrue(d.get("recipe").asText().contains("statsEvery: 2"));
        assertTrue(d.get("files").toString().contains("recipe.yaml"));
    }

    @Test
    void aSweepGivesItsLeaderboardCurvesAndTrialsAsRuns() throws Exception {
        JsonNode d = get("/api/sweep?id=" + sweepId).json();
        assertEquals("validationAccuracy", d.get("objective").asText());
        assertTrue(d.get("maximize").asBoolean());
        JsonNode board = d.get("leaderboard");
        assertEquals(3, board.size());
        assertEquals(1, board.get(0).get("number").asInt(), "the best complete trial first");
        assertEquals(0, board.get(1).get("number").asInt());
        assertEquals("pruned", board.get(2).get("state").asText());
        assertEquals("tiny/0001", board.get(0).get("runId").asText());
        assertEquals(List.of("overrides.updater.learningRate"), List.of(d.get("keys").get(0).asText()));
        assertEquals(1, d.get("curves").get("2").size(), "the pruned trial stopped after one epoch");
        assertEquals(2, d.get("curves").get("1").size());
        Response trial = get("/api/run?id=tiny/0001");
        assertEquals(200, trial.status());
        assertEquals("tiny", trial.json().get("sweep").asText());
        assertEquals(1, trial.json().get("trial").asInt());
        Response recipe = get("/api/file?run=tiny%2F0001&name=recipe.yaml");
        assertEquals(200, recipe.status());
        assertEquals("model: lenet5\n", recipe.body());
        assertEquals(404, get("/api/run?id=tiny/0009").status());
        assertEquals(404, get("/api/run?id=tiny/..%2F..").status());
    }

    @Test
    void theRungsAreWhereThePrunerDecides() {
        assertEquals(List.of(1, 3, 9), SweepView.rungs(new org.zoo4j.sweep.PrunerSpec.Asha(1, 3), 27));
        assertEquals(List.of(2, 3), SweepView.rungs(new org.zoo4j.sweep.PrunerSpec.Median(2, 5), 4));
        assertEquals(List.of(), SweepView.rungs(org.zoo4j.sweep.PrunerSpec.NONE, 4));
    }

    @Test
    void onlyTheNamedFilesOfARunAreServedAndNoPathLeadsOutOfIt() throws Exception {
        Path secret = Files.writeString(dir.resolve("secret.txt"), "secret");
        assertEquals(200, get("/api/file?run=" + runId + "&name=recipe.yaml").status());
        assertEquals(200, get("/api/file?run=" + runId + "&name=train.log").status());
        for (String target : List.of(
                "/api/file?run=" + runId + "&name=../../secret.txt",
                "/api/file?run=" + runId + "&name=..%2F..%2Fsecret.txt",
                "/api/file?run=" + runId + "&name=%2e%2e/%2e%2e/secret.txt",
                "/api/file?run=" + runId + "&name=" + secret.toAbsolutePath(),
                "/api/file?run=..&name=secret.txt",
                "/api/file?run=" + runId + "&name=last.zip",
                "/api/file?run=" + runId + "&name=sweep.db",
                "/../secret.txt", "/..%2F..%2Fsecret.txt", "/%2e%2e/%2e%2e/secret.txt",
                "/api/../../secret.txt", "/index.html/../../secret.txt", "/org/zoo4j/dashboard/web/run.js",
                "/META-INF/resources/webjars/echarts/5.3.1/package.json", "/logback.xml")) {
            Response r = get(target);
            assertEquals(404, r.status(), target + " -> " + r.head());
            assertFalse(r.body().contains("secret") && !r.body().contains("secret.txt"), target);
        }
        // A link inside the run to a file outside it is not followed.
        Path linked = Files.createDirectories(dir.resolve("runs").resolve("linked"));
        Files.writeString(linked.resolve("metrics.csv"), "epoch\n");
        Files.createSymbolicLink(linked.resolve("train.log"), secret.toAbsolutePath());
        assertEquals(200, get("/api/file?run=linked&name=metrics.csv").status());
        assertEquals(404, get("/api/file?run=linked&name=train.log").status());
    }

    @Test
    void everyMethodButGetAndHeadIsRefusedAndNothingIsWritten() throws Exception {
        Map<Path, FileTime> before = snapshot(dir.resolve("runs"));
        for (String method : List.of("POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND")) {
            for (String target : List.of("/", "/api/index", "/api/run?id=" + runId, "/api/sweep?id=tiny",
                    "/api/file?run=" + runId + "&name=recipe.yaml", "/run.html")) {
                Response r = request(method, target, null);
                assertEquals(405, r.status(), method + " " + target);
                assertTrue(r.head().toLowerCase(java.util.Locale.ROOT).contains("allow: get, head"), r.head());
            }
        }
        Response head = request("HEAD", "/api/index", null);
        assertEquals(200, head.status());
        assertEquals("", head.body());
        get("/api/run?id=" + runId);
        get("/api/sweep?id=tiny");
        assertEquals(before, snapshot(dir.resolve("runs")), "no file created, changed or deleted");
    }

    /**
     * Every file with its time, but SQLite's shared-memory index (sweep.db-shm), which every reader of a database in
     * WAL mode maps and marks: reading a sweep that workers write cannot do without it.
     */
    private static Map<Path, FileTime> snapshot(Path root) throws IOException {
        Map<Path, FileTime> files = new TreeMap<>();
        try (Stream<Path> all = Files.walk(root)) {
            for (Path p : all.toList()) {
                if (Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)
                        && !p.getFileName().toString().endsWith(".db-shm")) {
                    files.put(p, Files.getLastModifiedTime(p));
                }
            }
        }
        return files;
    }

    @Test
    void pagesAndChartsComeFromTheJarAndForeignHostNamesAreRefused() throws Exception {
        Response index = get("/");
        assertEquals(200, index.status());
        assertTrue(index.body().contains("zoo4j dashboard"));
        assertTrue(index.head().toLowerCase(java.util.Locale.ROOT).contains("content-security-policy: default-src 'self'"),
                index.head());
        Response echarts = get("/echarts.min.js");
        assertEquals(200, echarts.status());
        assertTrue(echarts.body().length() > 900_000 && echarts.body().contains("echarts"), "ECharts from its WebJar");
        for (String page : List.of("/run.html", "/sweep.html", "/run.js", "/sweep.js", "/index.js", "/dashboard.js",
                "/dashboard.css")) {
            assertEquals(200, get(page).status(), page);
        }
        assertEquals(404, get("/nothing.html").status());
        int port = server.address().getPort();
        assertEquals(403, request("GET", "/api/index", "attacker.example:" + port).status(),
                "a page of another site that rebinds its name to 127.0.0.1 gets nothing");
        assertEquals(200, request("GET", "/api/index", "localhost:" + port).status());
        assertEquals(404, get("/api/run?id=nope").status());
        assertEquals(400, get("/api/run?id=" + runId + "&after=x").status());
    }

    @Test
    void badInputIsAOneLineConfigException() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            ConfigException e = assertThrows(ConfigException.class, () -> DashboardServer.start(Catalog.empty(),
                    "127.0.0.1", taken.getLocalPort(), false));
            assertTrue(e.getMessage().contains("is in use"), e.getMessage());
        }
        ConfigException notRun = assertThrows(ConfigException.class, () -> Catalog.of(List.of(dir)));
        assertTrue(notRun.getMessage().contains("neither a run directory"), notRun.getMessage());
        assertTrue(assertThrows(ConfigException.class, () -> Catalog.of(List.of(dir.resolve("none"))))
                .getMessage().contains("no such directory"));
        assertTrue(assertThrows(ConfigException.class, () -> DashboardServer.start(Catalog.empty(), "0.0.0.0", 0,
                false)).getMessage().contains("--expose"));
        assertTrue(assertThrows(ConfigException.class, () -> DashboardServer.start(Catalog.empty(), "203.0.113.7", 0,
                true)).getMessage().contains("not an address of this machine"));
        assertTrue(assertThrows(ConfigException.class, () -> DashboardServer.start(Catalog.empty(), "example.com", 0,
                false)).getMessage().contains("an IP address"));
        assertNull(Catalog.of(List.of(run)).run("../x"));
    }

    @Test
    void theCommandLineSaysWhatIsWrongInOneLineAndExitsWith2() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            assertCli("is in use", "ui", "--port", String.valueOf(taken.getLocalPort()), run.toString());
        }
        assertCli("neither a run directory", "ui", dir.toString());
        assertCli("no such directory", "ui", "--dir", dir.resolve("none").toString());
        assertCli("Add --expose", "ui", "--bind", "0.0.0.0", run.toString());
        assertCli("add --ui", "train", "--port", "9000");
    }

    private static void assertCli(String expected, String... args) {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        picocli.CommandLine cli = Main.commandLine();
        cli.setErr(new PrintWriter(err, true, StandardCharsets.UTF_8));
        int code = cli.execute(args);
        String text = err.toString(StandardCharsets.UTF_8);
        assertEquals(2, code, String.join(" ", args) + ": " + text);
        assertTrue(text.contains(expected), text);
        assertEquals(1, text.strip().lines().count(), "one line: " + text);
    }
}
