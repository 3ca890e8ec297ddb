package org.zoo4j.data;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.ConnectException;
import java.net.HttpURLConnection;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zoo4j.base.AtomicFiles;
import org.zoo4j.base.Checksums;

/**
 * Downloads a manifest file from the first mirror that serves it whole and with the right SHA-256. The bytes go to a
 * hidden temporary file beside the target, which is renamed into place only after both checks; on any failure the
 * temporary file is deleted, so nothing half-downloaded is ever left.
 */
public final class Downloader {
    private static final Logger log = LoggerFactory.getLogger(Downloader.class);
    /** Time allowed to connect, and to wait for more bytes, before a mirror counts as failed. */
    private static final int TIMEOUT_MS = 30_000;

    private final PrintStream progress;

    /** @param progress where the progress bar goes (normally standard error), or null for none */
    public Downloader(PrintStream progress) {
        this.progress = progress;
    }

    /** Why a download failed everywhere; {@link #offline()} when no mirror could even be reached. */
    public static final class Failed extends DataException {
        private final boolean offline;

        Failed(String message, boolean offline) {
            super(message);
            this.offline = offline;
        }

        public boolean offline() {
            return offline;
        }
    }

    /** Downloads {@code file} into {@code target}, trying the mirrors in order. */
    public void download(List<String> mirrors, DatasetManifest.FileEntry file, Path target) {
        if (mirrors.isEmpty()) {
            throw new Failed(file.name() + ": the manifest lists no download location", true);
        }
        List<String> failures = new ArrayList<>();
        boolean unreachable = true;
        for (String mirror : mirrors) {
            String url = mirror.endsWith("/") ? mirror + file.name() : mirror + "/" + file.name();
            try {
                fetch(url, file, target);
                return;
            } catch (UnknownHostException | ConnectException | SocketTimeoutException e) {
                failures.add(url + ": cannot connect (" + e.getClass().getSimpleName() + ": " + e.getMessage() + ")");
            } catch (IOException e) {
                unreachable = false;
                failures.add(url + ": " + e.getMessage());
            }
            log.warn("download failed: {}", failures.get(failures.size() - 1));
        }
        throw new Failed("could not download " + file.name() + " (" + file.size() + " bytes, sha256 " + file.sha256()
                + "): " + String.join("; ", failures), unreachable);
    }

    private void fetch(String url, DatasetManifest.FileEntry file, Path target) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        HttpURLConnection http = (HttpURLConnection) URI.create(url).toURL().openConnection();
        http.setConnectTimeout(TIMEOUT_MS);
        http.setReadTimeout(TIMEOUT_MS);
        http.setInstanceFollowRedirects(true);
        http.setRequestProperty("User-Agent", "zoo4j");
        Path temp = Files.createTempFile(dir, "." + file.name() + ".", ".part");
        try {
            int status = http.getResponseCode();
            if (status != HttpURLConnection.HTTP_OK) {
                throw new IOException("HTTP " + status + (http.getResponseMessage() == null ? "" : " " + http.getResponseMessage()));
            }
            long expected = file.size() > 0 ? file.size() : http.getContentLengthLong();
            MessageDigest digest = Checksums.sha256();
            long got = 0;
            Bar bar = new Bar(file.name(), expected);
            try (InputStream in = http.getInputStream(); OutputStream out = Files.newOutputStream(temp)) {
                byte[] buffer = new byte[1 << 16];
                for (int n; (n = in.read(buffer)) > 0; ) {
                    out.write(buffer, 0, n);
                    digest.update(buffer, 0, n);
                    got += n;
                    if (file.size() > 0 && got > file.size()) {
                        throw new IOException("more than the expected " + file.size() + " bytes; wrong file");
                    }
                    bar.update(got);
                }
            } finally {
                bar.finish(got);
            }
            if (file.size() > 0 && got != file.size()) {
                throw new IOException("connection ended after " + got + " of " + file.size() + " bytes");
            }
            String sha = Checksums.hex(digest);
            if (file.sha256() != null && !file.sha256().equalsIgnoreCase(sha)) {
                throw new IOException("checksum mismatch: expected sha256 " + file.sha256() + ", got " + sha);
            }
            AtomicFiles.move(temp, target);
            log.info("downloaded {} ({} bytes, sha256 verified) from {}", target, got, url);
        } finally {
            http.disconnect();
            Files.deleteIfExists(temp);
        }
    }

    /** A one-line progress bar, redrawn at most 5 times a second (on a terminal) or every 10% (in a log). */
    private final class Bar {
        private final String name;
        private final long total;
        private final boolean terminal = System.console() != null;
        private final long start = System.nanoTime();
        private long lastDraw;
        private int lastTenth = -1;

        Bar(String name, long total) {
            this.name = name;
            this.total = total;
        }

        void update(long done) {
            if (progress == null) {
                return;
            }
            long now = System.nanoTime();
            if (terminal) {
                if (now - lastDraw > 200_000_000L) {
                    lastDraw = now;
                    progress.print("\r" + line(done));
                    progress.flush();
                }
            } else if (total > 0) {
                int tenth = (int) (10 * done / total);
                if (tenth != lastTenth) {
                    lastTenth = tenth;
                    progress.println(line(done));
                }
            }
        }

        void finish(long done) {
            if (progress != null && terminal) {
                progress.println("\r" + line(done));
            }
        }

        private String line(long done) {
            double seconds = Math.max(1e-3, (System.nanoTime() - start) / 1e9);
            String rate = String.format(Locale.ROOT, "%.1f MB/s", done / seconds / 1e6);
            if (total <= 0) {
                return String.format(Locale.ROOT, "%s %.1f MB %s", name, done / 1e6, rate);
            }
            int width = 30;
            int filled = (int) Math.min(width, width * done / total);
            return String.format(Locale.ROOT, "%s [%s%s] %3d%% %.1f/%.1f MB %s", name, "#".repeat(filled),
                    ".".repeat(width - filled), 100 * done / total, done / 1e6, total / 1e6, rate);
        }
    }
}
