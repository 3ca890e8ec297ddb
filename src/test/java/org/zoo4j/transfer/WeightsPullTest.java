package org.zoo4j.transfer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.zoo4j.Zoo;
import org.zoo4j.cli.Main;
import org.zoo4j.zoo.WeightsManifest;

/** Pulls against a server on 127.0.0.1: full digest, torchvision-style prefix, unverified entries, the cache. */
class WeightsPullTest {
    @TempDir
    Path dir;

    private HttpServer server;
    private String base;
    private final Map<String, byte[]> files = new ConcurrentHashMap<>();
    private final AtomicInteger requests = new AtomicInteger();
    private final ByteArrayOutputStream progress = new ByteArrayOutputStream();
    private byte[] body;
    private String sha;

    @BeforeEach
    void start() throws Exception {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/", exchange -> {
            requests.incrementAndGet();
            byte[] b = files.get(exchange.getRequestURI().getPath());
            if (b == null) {
                exchange.sendResponseHeaders(404, -1);
            } else {
                exchange.sendResponseHeaders(200, b.length);
                exchange.getResponseBody().write(b);
            }
            exchange.close();
        });
        server.start();
        base = "http://127.0.0.1:" + server.getAddress().getPort();
        body = new byte[200_000];
        new Random(7).nextBytes(body);
        sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(body));
        files.put("/models/w-" + sha.substring(0, 8) + ".pth", body);
        files.put("/hub/model.safetensors", body);
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    private WeightsManifest.Entry entry(String file, String mirrorPath, String sha256, String prefix) {
        return new WeightsManifest.Entry("resnet18", "test", WeightsManifest.Format.PTH, file,
                List.of(base + "/missing", base + mirrorPath), (long) body.length, sha256, prefix, null, null, null, null);
    }

    private WeightsCache cache() {
        return new WeightsCache(dir.resolve("cache"), new PrintStream(progress, true, StandardCharsets.UTF_8));
    }

    @Test
    void aPrefixVerifiedDownloadLandsInTheCacheAfterAFailedMirror() throws IOException {
        String file = "w-" + sha.substring(0, 8) + ".pth";
        Path got = cache().pull("w", entry(file, "/models", null, sha.substring(0, 8)), false);
        assertEquals(dir.resolve("cache/w/" + file), got);
        assertArrayEquals(body, Files.readAllBytes(got));
        assertTrue(progress.toString().contains("sha256 prefix " + sha.substring(0, 8)), progress.toString());
        assertEquals(2, requests.get(), "404 from the first mirror, then the second");
        // Second pull: from the cache, checked again, no request.
        cache().pull("w", entry(file, "/models", null, sha.substring(0, 8)), false);
        assertEquals(2, requests.get());
        assertTrue(progress.toString().contains("already in the cache"));
    }

    @Test
    void aWrongPrefixIsRefusedAndNothingIsKept() {
        String file = "w-" + sha.substring(0, 8) + ".pth";
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> cache().pull("w", entry(file, "/models", null, "00000000"), false));
        assertTrue(e.getMessage().contains("expected sha256 prefix 00000000") && e.getMessage().contains(sha),
                e.getMessage());
        assertNoFilesUnder(dir.resolve("cache"));
    }

    @Test
    void aFullDigestIsCheckedByTheDownloader() throws IOException {
        Path got = cache().pull("hub", entry("model.safetensors", "/hub", sha, null), false);
        assertArrayEquals(body, Files.readAllBytes(got));
        String wrong = "f".repeat(64);
        Files.delete(got);
        RuntimeException e = assertThrows(RuntimeException.class,
                () -> cache().pull("hub", entry("model.safetensors", "/hub", wrong, null), false));
        assertTrue(e.getMessage().contains("checksum mismatch"), e.getMessage());
        assertNoFilesUnder(dir.resolve("cache"));
    }

    @Test
    void anUnverifiedEntryNeedsConsentAndReportsTheDigestItGot() throws IOException {
        WeightsManifest.Entry unverified = entry("model.safetensors", "/hub", null, null);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> cache().pull("hub", unverified, false));
        assertTrue(e.getMessage().contains("--allow-unverified"), e.getMessage());
        assertEquals(0, requests.get(), "refused before any download");
        cache().pull("hub", unverified, true);
        assertTrue(progress.toString().contains("UNVERIFIED; its sha256 is " + sha), progress.toString());
    }

    @Test
    void theCommandLinePullsIntoTheConfiguredCacheAndRefusesAWrongDigest() throws IOException {
        String prefix = sha.substring(0, 8);
        Path manifest = dir.resolve("weights.yaml");
        Files.writeString(manifest, "weights:\n"
                + "  good: {model: resnet18, format: pth, file: w-" + prefix + ".pth, mirrors: [" + base + "/models],"
                + " sha256Prefix: " + prefix + "}\n"
                + "  tampered: {model: resnet18, format: pth, file: w-" + prefix + ".pth, mirrors: [" + base + "/models],"
                + " sha256Prefix: 0123abcd}\n");
        String previous = System.getProperty(WeightsCache.CACHE_PROPERTY);
        System.setProperty(WeightsCache.CACHE_PROPERTY, dir.resolve("cli-cache").toString());
        PrintStream oldErr = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            assertEquals(0, Main.run("weights", "pull", "good", "--manifest", manifest.toString()));
            assertArrayEquals(body, Files.readAllBytes(dir.resolve("cli-cache/good/w-" + prefix + ".pth")));
            assertTrue(err.toString().contains("src/main/python/pth_to_safetensors.py"), "says how to convert: " + err);
            assertEquals(2, Main.run("weights", "pull", "tampered", "--manifest", manifest.toString()));
            assertTrue(err.toString().contains("expected sha256 prefix 0123abcd"), err.toString());
            assertNoFilesUnder(dir.resolve("cli-cache/tampered"));
        } finally {
            System.setErr(oldErr);
            if (previous == null) {
                System.clearProperty(WeightsCache.CACHE_PROPERTY);
            } else {
                System.setProperty(WeightsCache.CACHE_PROPERTY, previous);
            }
        }
    }

    @Test
    void theShippedManifestIsConsistent() {
        WeightsManifest m = WeightsManifest.load();
        assertTrue(m.weights().size() >= 14, "torchvision AlexNet, 8 VGGs, 5 ResNets");
        m.weights().forEach((name, e) -> {
            Zoo.get(e.model()); // throws for a model the zoo does not have
            if (e.format() == WeightsManifest.Format.PTH) {
                // torchvision's file names end in the first 8 hex digits of the SHA-256: the prefix must be those.
                assertTrue(e.file().endsWith("-" + e.sha256Prefix() + ".pth"), name + ": " + e.file());
                assertTrue(e.mirrors().get(0).startsWith("https://download.pytorch.org/models"), name);
            }
            assertTrue(e.verifiable() || e.format() == WeightsManifest.Format.SAFETENSORS, name);
            assertTrue(e.licence() != null && !e.licence().isBlank(), name + " licence");
            if (e.format() == WeightsManifest.Format.ZOO4J) {
                // a zoo4j model file carries its own preprocessing and normaliser (ShippedWeightsTest checks the rest)
                assertTrue(e.sha256() != null && e.size() > 0 && e.mirrors().isEmpty(), name);
            } else {
                assertEquals(224, e.preprocessing().crop(), name);
            }
            assertTrue(m.accuracyOf(name).top1() > 50 && m.accuracyOf(name).top1() < m.accuracyOf(name).top5(), name);
        });
        assertEquals(69.758, m.get("resnet18.tv-imagenet1k-v1").accuracy().top1());
        assertEquals(69.758, m.accuracyOf("resnet18.timm-tv-in1k").top1(), "republished weights: the figure of the set they republish");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> m.get("resnet19"));
        assertTrue(e.getMessage().contains("resnet18.tv-imagenet1k-v1"));
    }

    @Test
    void manifestMistakesAreCaughtOnLoad() {
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> WeightsManifest.parse(
                "weights:\n  x: {model: resnet18, format: pth, file: ../evil.pth, mirrors: [http://h]}\n"));
        assertTrue(e.getMessage().contains("plain name"), e.getMessage());
        e = assertThrows(IllegalStateException.class, () -> WeightsManifest.parse(
                "weights:\n  x: {model: resnet18, format: pth, file: a.pth, mirrors: [http://h], sha256: abc}\n"));
        assertTrue(e.getMessage().contains("64 hex"), e.getMessage());
    }

    private static void assertNoFilesUnder(Path root) {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> s = Files.walk(root)) {
            assertFalse(s.anyMatch(Files::isRegularFile), "files left under " + root);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
