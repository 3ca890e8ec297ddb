package org.zoo4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code zoo4j} launcher script, run with a stand-in {@code java} that prints what it was given: under a locale
 * that cannot name non-ASCII files (LANG=C) it switches the JVM to a UTF-8 one, and leaves a UTF-8 locale alone; its
 * JVM options are its defaults followed by the user's, and a collector the user names replaces the default one.
 */
class LauncherTest {
    @TempDir
    Path dir;

    private String launch(Map<String, String> env) throws Exception {
        Path home = dir.resolve("zoo4j-home");
        Files.createDirectories(home.resolve("target/lib"));
        Files.copy(Path.of("zoo4j"), home.resolve("zoo4j"), StandardCopyOption.REPLACE_EXISTING);
        Files.writeString(home.resolve("target/zoo4j.jar"), "a jar newer than every source: nothing is built");
        Path bin = Files.createDirectories(dir.resolve("bin"));
        Path java = Files.writeString(bin.resolve("java"), "#!/bin/sh\necho \"LC_ALL=$LC_ALL args=$*\"\n");
        Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
        ProcessBuilder pb = new ProcessBuilder("bash", home.resolve("zoo4j").toString(), "train", "--out", "runs/ü")
                .redirectErrorStream(true);
        pb.environment().keySet().removeIf(k -> k.startsWith("LC_") || k.equals("LANG"));
        pb.environment().putAll(env);
        pb.environment().put("PATH", bin + ":" + System.getenv("PATH"));
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        return out;
    }

    @Test
    void aLocaleThatCannotNameNonAsciiFilesIsSwitchedToUtf8() throws Exception {
        for (Map<String, String> env : List.of(Map.of("LANG", "C"), Map.of("LC_ALL", "POSIX"), Map.<String, String>of())) {
            String out = launch(env);
            assertTrue(out.contains("LC_ALL=C.UTF-8 ") && out.contains("org.zoo4j.cli.Main train --out runs/ü"),
                    env + ": " + out);
        }
        assertTrue(launch(Map.of("LANG", "en_US.UTF-8")).contains("LC_ALL= "), "a UTF-8 locale is kept");
    }

    @Test
    void userJvmOptionsFollowTheDefaultsAndANamedCollectorReplacesTheDefaultOne() throws Exception {
        String defaults = "args=-Xmx4g -XX:+UseSerialGC -Xmn96m -XX:SurvivorRatio=4 ";
        assertTrue(launch(Map.of()).contains(defaults + "--add-opens"), "no JAVA_OPTS: the defaults alone");
        String more = launch(Map.of("JAVA_OPTS", "-Xmx8g -Dzoo4j.inferenceCopy=false"));
        assertTrue(more.contains(defaults + "-Xmx8g -Dzoo4j.inferenceCopy=false --add-opens"),
                "the user's options after the defaults, so that a later -Xmx wins: " + more);
        String g1 = launch(Map.of("JAVA_OPTS", "-XX:+UseG1GC -XX:MaxGCPauseMillis=50"));
        assertTrue(g1.contains("args=-Xmx4g -XX:+UseG1GC -XX:MaxGCPauseMillis=50 --add-opens"),
                "another collector: no serial collector, no young generation of the default's size: " + g1);
    }
}
