package org.zoo4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorOutputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.zoo4j.base.InputShape;

/** Downloads against a server on 127.0.0.1: good file, wrong checksum, 404 then a mirror, a cut connection. */
class DownloadTest {
    @TempDir
    Path dir;

    private HttpServer server;
    private String base;
    /** Path to body; "/missing/..." answers 404, "/cut/..." sends half the body and drops the connection. */
    private final Map<String, byte[]> files = new ConcurrentHashMap<>();
    private final AtomicInteger requests = new AtomicInteger();
    private String previousCache;

    @BeforeEach
    void start() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/", exchange -> {
            requests.incrementAndGet();
            String path = exchange.getRequestURI().getPath();
            byte[] body = files.get(path.replaceFirst("^/(good|cut|bad)/", "/"));
            if (path.startsWith("/missing/") || body == null) {
                exchange.sendResponseHeaders(404, -1);
                exchange.close();
                return;
            }
            if (path.startsWith("/bad/")) {
                body = body.clone();
                body[body.length / 2] ^= 0x55;
            }
            exchange.sendResponseHeaders(200, body.length);
            OutputStream out = exchange.getResponseBody();
            if (path.startsWith("/cut/")) {
                out.write(body, 0, body.length / 2);
                out.flush();
                // Drop the connection mid-body.
                exchange.getHttpContext().getServer().stop(0);
                return;
            }
            out.write(body);
            exchange.close();
        });
        server.start();
        base = "http://127.0.0.1:" + server.getAddress().getPort();
        previousCache = System.getProperty(DatasetFiles.CACHE_PROPERTY);
        System.setProperty(DatasetFiles.CACHE_PROPERTY, dir.resolve("cache").toString());
    }

    @AfterEach
    void stop() {
        server.stop(0);
        if (previousCache == null) {
            System.clearProperty(DatasetFiles.CACHE_PROPERTY);
        } else {
            System.setProperty(DatasetFiles.CACHE_PROPERTY, previousCache);
        }
    }

    private static String sha256(byte[] data) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    }

    private DatasetManifest.FileEntry entry(String name, byte[] data) throws Exception {
        files.put("/" + name, data);
        return new DatasetManifest.FileEntry(name, data.length, sha256(data), null, null, null);
    }

    private static byte[] payload(int size) {
        byte[] data = new byte[size];
        for (int i = 0; i < size; i++) {
            data[i] = (byte) (i * 31 + i / 7);
        }
        return data;
    }

    /** Everything in the target folder: only finished files may be there. */
    private List<String> listing(Path folder) throws IOException {
        if (!Files.exists(folder)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(folder)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void goodFileIsVerifiedAndRenamedIntoPlace() throws Exception {
        byte[] data = payload(300_000);
        DatasetManifest.FileEntry e = entry("good.bin", data);
        Path target = dir.resolve("out").resolve("good.bin");
        new Downloader(null).download(List.of(base + "/good/"), e, target);
        assertArrayEquals(data, Files.readAllBytes(target));
        assertEquals(List.of("good.bin"), listing(target.getParent()));
    }

    @Test
    void wrongChecksumIsAnErrorNamingTheFileAndTheExpectedSum() throws Exception {
        DatasetManifest.FileEntry e = entry("data.bin", payload(50_000));
        Path target = dir.resolve("out").resolve("data.bin");
        DataException err = assertThrows(DataException.class,
                () -> new Downloader(null).download(List.of(base + "/bad/"), e, target));
        assertTrue(err.getMessage().contains("data.bin") && err.getMessage().contains("checksum mismatch")
                && err.getMessage().contains("expected sha256 " + e.sha256()), err.getMessage());
        assertEquals(List.of(), listing(target.getParent()), "nothing half-downloaded is left");
    }

    @Test
    void notFoundOnTheFirstMirrorThenFromTheSecond() throws Exception {
        byte[] data = payload(10_000);
        DatasetManifest.FileEntry e = entry("m.bin", data);
        Path target = dir.resolve("out").resolve("m.bin");
        new Downloader(null).download(List.of(base + "/missing/", base + "/good"), e, target);
        assertArrayEquals(data, Files.readAllBytes(target));
        assertEquals(2, requests.get());
        assertEquals(List.of("m.bin"), listing(target.getParent()));
    }

    @Test
    void aConnectionCutMidFileLeavesNothing() throws Exception {
        DatasetManifest.FileEntry e = entry("cut.bin", payload(400_000));
        Path target = dir.resolve("out").resolve("cut.bin");
        DataException err = assertThrows(DataException.class,
                () -> new Downloader(null).download(List.of(base + "/cut/"), e, target));
        assertTrue(err.getMessage().contains("cut.bin"), err.getMessage());
        assertFalse(Files.exists(target));
        assertEquals(List.of(), listing(target.getParent()), "nothing half-downloaded is left");
    }

    private DatasetManifest tinyIdxManifest(String mirrors) throws Exception {
        Path src = dir.resolve("src");
        Fixtures.idxDataset(src, 40, 20);
        StringBuilder yaml = new StringBuilder("datasets:\n  tiny:\n    format: idx\n    shape: 1,8,8\n")
                .append("    classes: [\"0\", \"1\", \"2\", \"3\", \"4\", \"5\", \"6\", \"7\", \"8\", \"9\"]\n")
                .append("    mirrors: ").append(mirrors).append("\n    files:\n");
        for (String[] f : new String[][] {{"train-images", "train-images-idx3-ubyte.gz"},
                {"train-labels", "train-labels-idx1-ubyte.gz"}, {"test-images", "t10k-images-idx3-ubyte.gz"},
                {"test-labels", "t10k-labels-idx1-ubyte.gz"}}) {
            byte[] data = Files.readAllBytes(src.resolve(f[1]));
            files.put("/" + f[1], data);
            yaml.append("      ").append(f[0]).append(": {name: ").append(f[1]).append(", size: ").append(data.length)
                    .append(", sha256: ").append(sha256(data)).append("}\n");
        }
        return DatasetManifest.parse(yaml.toString());
    }

    @Test
    void aPipelineDownloadsIntoTheCacheOnceWithAProgressBar() throws Exception {
        DatasetManifest manifest = tinyIdxManifest("[\"" + base + "/missing/\", \"" + base + "/good/\"]");
        ByteArrayOutputStream progress = new ByteArrayOutputStream();
        DataConfig config = DataConfig.of("tiny").withNormalization(NormalizationMode.SCALE);
        try (DataPipeline p = DataPipeline.open(config, InputShape.of(1, 8, 8), manifest,
                new PrintStream(progress, true, StandardCharsets.UTF_8))) {
            assertEquals(20, p.testSize());
        }
        Path cached = dir.resolve("cache").resolve("tiny");
        assertEquals(List.of("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz",
                "train-labels-idx1-ubyte.gz"), listing(cached));
        assertTrue(progress.toString(StandardCharsets.UTF_8).contains("train-images-idx3-ubyte.gz ["),
                progress.toString(StandardCharsets.UTF_8));
        int before = requests.get();
        try (DataPipeline p = DataPipeline.open(config, InputShape.of(1, 8, 8), manifest, null)) {
            assertEquals(20, p.testSize());
        }
        assertEquals(before, requests.get(), "the second run reads the cache");
    }

    @Test
    void offlineTheErrorNamesTheMissingFileAndTheWaysToGetIt() throws Exception {
        int closedPort;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = s.getLocalPort();
        }
        DatasetManifest manifest = tinyIdxManifest("[\"http://127.0.0.1:" + closedPort + "/data/\"]");
        DataException e = assertThrows(DataException.class, () -> DataPipeline.open(DataConfig.of("tiny"),
                InputShape.of(1, 8, 8), manifest, null));
        String m = e.getMessage();
        assertTrue(m.contains("tiny: file train-images-idx3-ubyte.gz not found in " + dir.resolve("cache").resolve("tiny")),
                m);
        assertTrue(m.contains("cannot connect") && m.contains("Ways to get it")
                && m.contains("http://127.0.0.1:" + closedPort + "/data/train-images-idx3-ubyte.gz")
                && m.contains("data.path"), m);
        DataException off = assertThrows(DataException.class, () -> DataPipeline.open(
                DataConfig.of("tiny").withDownload(false), InputShape.of(1, 8, 8), manifest, null));
        assertTrue(off.getMessage().contains("downloads are off"), off.getMessage());
        assertEquals(List.of(), listing(dir.resolve("cache").resolve("tiny")));
    }

    private static byte[] tarGz(Map<String, byte[]> entries, String symlink) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (TarArchiveOutputStream tar = new TarArchiveOutputStream(new GzipCompressorOutputStream(bytes))) {
            tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            for (Map.Entry<String, byte[]> e : entries.entrySet()) {
                TarArchiveEntry entry = new TarArchiveEntry(e.getKey(), true);
                entry.setSize(e.getValue().length);
                tar.putArchiveEntry(entry);
                tar.write(e.getValue());
                tar.closeArchiveEntry();
            }
            if (symlink != null) {
                TarArchiveEntry link = new TarArchiveEntry("cifar-10-batches-bin/link", TarArchiveEntry.LF_SYMLINK);
                link.setLinkName(symlink);
                tar.putArchiveEntry(link);
                tar.closeArchiveEntry();
            }
        }
        return bytes.toByteArray();
    }

    private DatasetManifest cifarManifest(byte[] archive, Map<String, byte[]> members) throws Exception {
        files.put("/cifar-10-binary.tar.gz", archive);
        StringBuilder yaml = new StringBuilder("""
                datasets:
                  cifar10:
                    format: cifar10-binary
                    shape: 3,32,32
                    classes: [airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck]
                    mirrors: ["%s/good/"]
                    files:
                      archive:
                        name: cifar-10-binary.tar.gz
                        size: %d
                        sha256: %s
                        extract: cifar-10-batches-bin
                        members:
                """.formatted(base, archive.length, sha256(archive)));
        for (Map.Entry<String, byte[]> m : members.entrySet()) {
            yaml.append("          ").append(m.getKey()).append(": ").append(m.getValue().length).append('\n');
        }
        return DatasetManifest.parse(yaml.toString());
    }

    private Map<String, byte[]> cifarMembers() throws IOException {
        Path bin = dir.resolve("fixture").resolve("cifar-10-batches-bin");
        Fixtures.cifarDataset(bin, 4);
        Map<String, byte[]> members = new TreeMap<>();
        try (Stream<Path> s = Files.list(bin)) {
            for (Path p : s.toList()) {
                members.put("cifar-10-batches-bin/" + p.getFileName(), Files.readAllBytes(p));
            }
        }
        return members;
    }

    @Test
    void cifarArchiveIsDownloadedCheckedUnpackedAndDeleted() throws Exception {
        Map<String, byte[]> members = cifarMembers();
        Map<String, byte[]> withReadme = new TreeMap<>(members);
        withReadme.put("cifar-10-batches-bin/readme.html", "<p>hi</p>".getBytes(StandardCharsets.UTF_8));
        DatasetManifest manifest = cifarManifest(tarGz(withReadme, null), members);
        try (DataPipeline p = DataPipeline.open(DataConfig.of("cifar10").withFractions(0.1, 0.1),
                InputShape.of(3, 32, 32), manifest, null)) {
            assertEquals(4, p.testSize());
            assertEquals(18, p.trainSize());
        }
        Path cache = dir.resolve("cache").resolve("cifar10");
        assertEquals(List.of("cifar-10-batches-bin"), listing(cache), "archive deleted, no temporary folders");
        assertArrayEquals(members.get("cifar-10-batches-bin/test_batch.bin"),
                Files.readAllBytes(cache.resolve("cifar-10-batches-bin").resolve("test_batch.bin")));
    }

    @Test
    void archiveEntriesThatEscapeTheTargetFolderAreRefused() throws Exception {
        Map<String, byte[]> members = cifarMembers();
        Map<String, byte[]> evil = new TreeMap<>(members);
        evil.put("cifar-10-batches-bin/../../evil.txt", "owned".getBytes(StandardCharsets.UTF_8));
        DatasetManifest manifest = cifarManifest(tarGz(evil, null), members);
        DataException e = assertThrows(DataException.class, () -> DataPipeline.open(DataConfig.of("cifar10"),
                InputShape.of(3, 32, 32), manifest, null));
        assertTrue(e.getMessage().contains("unsafe entry") && e.getMessage().contains("evil.txt"), e.getMessage());
        assertFalse(Files.exists(dir.resolve("evil.txt")));
        assertFalse(Files.exists(dir.resolve("cache").resolve("evil.txt")));
        assertFalse(listing(dir.resolve("cache").resolve("cifar10")).stream().anyMatch(n -> n.startsWith(".extract")));

        DatasetManifest linked = cifarManifest(tarGz(members, "/etc/passwd"), members);
        Files.deleteIfExists(dir.resolve("cache").resolve("cifar10").resolve("cifar-10-binary.tar.gz"));
        DataException l = assertThrows(DataException.class, () -> DataPipeline.open(DataConfig.of("cifar10"),
                InputShape.of(3, 32, 32), linked, null));
        assertTrue(l.getMessage().contains("is a link"), l.getMessage());
        assertFalse(Files.exists(dir.resolve("cache").resolve("cifar10").resolve("cifar-10-batches-bin")));
    }
}
