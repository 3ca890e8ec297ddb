package org.zoo4j.sweep;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.zoo4j.cli.Main;
import org.zoo4j.recipe.TrainingRecipe;

/** The store under concurrent workers, and a real sweep killed with SIGKILL and resumed. */
class SweepRunTest {
    @TempDir
    Path dir;

    /**
     * Claims trials until the budget is used up, as a worker does; run as a separate process by the test below, and
     * prints each number it got.
     */
    public static void main(String[] args) throws Exception {
        SweepStore store = SweepStore.open(Path.of(args[0]));
        int max = Integer.parseInt(args[1]);
        SweepStore.Claim c;
        while ((c = store.claim(max, (n, trials) -> {
            sleep(2); // a proposal takes a moment, inside the transaction
            return Map.entry(new double[] {n}, Map.of("n", Integer.toString(n)));
        })) != null) {
            System.out.println("claimed " + c.trial().number());
            sleep(20); // the "trial", outside any transaction
            store.finish(c.trial().number(), SweepStore.State.COMPLETE, 1.0, null, null, 0);
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * A new store appears with its tables: a reader polling the directory while six threads create the store at once
     * never finds a {@code sweep.db} it cannot read, the six share one store, and no temporary file is left.
     */
    @Test
    void aNewStoreAppearsWithItsTablesAndCreatorsAtOnceShareOne() throws Exception {
        ExecutorService threads = Executors.newFixedThreadPool(6);
        for (int attempt = 0; attempt < 5; attempt++) {
            Path sweep = dir.resolve("new-" + attempt);
            CountDownLatch start = new CountDownLatch(1);
            List<CompletableFuture<Void>> creators = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                String key = "creator-" + i;
                creators.add(CompletableFuture.runAsync(() -> {
                    try {
                        start.await();
                        SweepStore.open(sweep).putMeta(key, "here");
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                }, threads));
            }
            CompletableFuture<Void> all = CompletableFuture.allOf(creators.toArray(CompletableFuture[]::new));
            start.countDown();
            while (!all.isDone()) {
                if (SweepStore.exists(sweep)) {
                    assertEquals(List.of(), SweepStore.openReadOnly(sweep).trials());
                }
            }
            all.get(1, TimeUnit.MINUTES);
            SweepStore store = SweepStore.openReadOnly(sweep);
            for (int i = 0; i < 6; i++) {
                assertEquals("here", store.meta("creator-" + i), "attempt " + attempt + ", creator " + i);
            }
            try (var files = Files.list(sweep)) {
                List<String> names = files.map(f -> f.getFileName().toString()).sorted().toList();
                assertTrue(names.stream().allMatch(n -> n.startsWith("sweep.db")), names.toString());
            }
        }
        threads.shutdown();
    }

    @Test
    void workersInThreeProcessesNeverTakeTheSameTrialAndNeverFailOnTheLock() throws Exception {
        Path sweep = dir.resolve("s");
        SweepStore store = SweepStore.open(sweep);
        int max = 60;
        List<Process> children = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            children.add(new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
                    System.getProperty("java.class.path"), SweepRunTest.class.getName(), sweep.toString(),
                    Integer.toString(max)).redirectErrorStream(true).start());
        }
        long wait = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (store.trials().isEmpty() && System.nanoTime() < wait) {
            Thread.sleep(20); // until a child process has started claiming
        }
        List<Integer> mine = Collections.synchronizedList(new ArrayList<>());
        SweepStore.Claim c;
        while ((c = store.claim(max, (n, t) -> {
            sleep(2);
            return Map.entry(new double[] {n}, Map.of());
        })) != null) {
            mine.add(c.trial().number());
            sleep(20);
            store.finish(c.trial().number(), SweepStore.State.COMPLETE, 1.0, null, null, 0);
        }
        List<Integer> all = new ArrayList<>(mine);
        int processesThatClaimed = mine.isEmpty() ? 0 : 1;
        for (Process p : children) {
            String out = new String(p.getInputStream().readAllBytes());
            assertTrue(p.waitFor(60, TimeUnit.SECONDS));
            assertEquals(0, p.exitValue(), out);
            int before = all.size();
            for (String line : out.split("\n")) {
                if (line.startsWith("claimed ")) {
                    all.add(Integer.parseInt(line.substring(8).trim()));
                }
            }
            processesThatClaimed += all.size() > before ? 1 : 0;
        }
        Collections.sort(all);
        List<Integer> expected = new ArrayList<>();
        for (int i = 0; i < max; i++) {
            expected.add(i);
        }
        assertEquals(expected, all, "every trial taken exactly once");
        // SQLite's busy wait is not fair, so one process may get none; at least two must have competed.
        assertTrue(processesThatClaimed >= 2, "trials were taken by " + processesThatClaimed + " process(es)");
        assertTrue(store.trials().stream().allMatch(t -> t.state() == SweepStore.State.COMPLETE && t.attempts() == 1));
    }

    @Test
    void aTrialOfADeadWorkerIsContinuedAndOneThatKeepsKillingItsWorkerFails() throws Exception {
        SweepStore store = SweepStore.open(dir.resolve("d"));
        SweepStore.Claim c = store.claim(1, (n, t) -> Map.entry(new double[] {0.5}, Map.of()));
        // Pretend its worker was another, now dead, process on this host.
        store.transaction(conn -> conn.createStatement().executeUpdate("UPDATE trials SET worker = '"
                + Long.MAX_VALUE / 2 + "@" + SweepStore.WORKER.substring(SweepStore.WORKER.indexOf('@') + 1) + "'"));
        SweepStore.Claim again = store.claim(1, (n, t) -> null);
        assertNotNull(again, "the dead worker's trial is given out again");
        assertTrue(again.continued());
        assertEquals(c.trial().number(), again.trial().number());
        assertEquals(2, again.trial().attempts());
        assertNull(store.claim(1, (n, t) -> null), "it is running (this process is alive), the budget is used");
        store.transaction(conn -> conn.createStatement().executeUpdate("UPDATE trials SET attempts = 3, worker = "
                + "'remote-worker', heartbeat = 0"));
        assertNull(store.claim(1, (n, t) -> null));
        SweepStore.Trial failed = store.trials().get(0);
        assertEquals(SweepStore.State.FAILED, failed.state());
        assertTrue(failed.reason().contains("died 3 times"), failed.reason());
    }

    /**
     * A real sweep of three tiny LeNet-5 trials in a child JVM, killed with SIGKILL once the first trial is complete;
     * --resume finishes it without running the complete trial again. The second trial's learning rate makes the loss
     * blow up: it is recorded as failed and the sweep goes on. The report draws its PNGs and HTML.
     */
    @Test
    void aSweepKilledWithSigkillResumesWithoutLosingOrRepeatingTrials() throws Exception {
        Path file = dir.resolve("tiny.yaml");
        Files.writeString(file, """
                name: tiny
                recipe: training/lenet5-fashion-mnist.yaml
                set: {data.subset: 300, epochs: 1, data.batchSize: 32, data.download: false}
                space:
                  overrides.updater.learningRate: {choice: [0.003, 1.0e+9, 0.002]}
                budget: {maxTrials: 3}
                strategy: {type: grid}
                """);
        Path root = dir.resolve("sweeps");
        Path sweepDir = root.resolve("tiny");
        Process child = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx1g",
                "-cp", System.getProperty("java.class.path"), "org.zoo4j.cli.Main", "sweep", file.toString(), "--dir",
                root.toString()).redirectErrorStream(true).redirectOutput(dir.resolve("child.log").toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(150);
        boolean firstDone = false;
        while (!firstDone && child.isAlive() && System.nanoTime() < deadline) {
            Thread.sleep(100);
            firstDone = SweepStore.exists(sweepDir) && SweepStore.open(sweepDir).trials().stream()
                    .anyMatch(t -> t.state() == SweepStore.State.COMPLETE);
        }
        assertTrue(firstDone, "no trial completed: " + Files.readString(dir.resolve("child.log")));
        assertTrue(child.isAlive(), "the sweep finished before it could be killed");
        child.destroyForcibly(); // SIGKILL: nothing is cleaned up
        assertTrue(child.waitFor(30, TimeUnit.SECONDS));

        SweepStore store = SweepStore.open(sweepDir);
        Map<Integer, SweepStore.Trial> before = new HashMap<>();
        store.trials().forEach(t -> before.put(t.number(), t));
        SweepStore.Trial first = before.get(0);
        assertEquals(SweepStore.State.COMPLETE, first.state());

        assertEquals(0, Main.run("sweep", "--resume", "tiny", "--dir", root.toString()));
        List<SweepStore.Trial> after = store.trials();
        assertEquals(3, after.size(), "the budget: three trials, none twice");
        SweepStore.Trial kept = after.get(0);
        assertEquals(List.of(first.state(), first.value(), first.testAccuracy(), first.seconds(), first.worker(), 1),
                List.of(kept.state(), kept.value(), kept.testAccuracy(), kept.seconds(), kept.worker(), kept.attempts()),
                "the complete trial is kept as it was, not run again");
        assertEquals(1, Files.readAllLines(sweepDir.resolve("trials/0000/train.log")).stream()
                .filter(l -> l.matches("\\S+ run .*")).count(), "trial 0 trained once");
        SweepStore.Trial diverged = after.get(1);
        assertEquals(SweepStore.State.FAILED, diverged.state(), diverged.toString());
        assertTrue(diverged.reason().contains("loss became"), diverged.reason());
        assertEquals(SweepStore.State.COMPLETE, after.get(2).state(), after.get(2).toString());
        assertTrue(after.get(2).value() > 0.3, "learns: " + after.get(2));

        for (String f : List.of("report.html", "objective.png", "param-0.png", "rungs.png", "leaderboard.txt",
                "best-recipe.yaml")) {
            assertTrue(Files.size(sweepDir.resolve(f)) > 0, f);
        }
        String html = Files.readString(sweepDir.resolve("report.html"));
        assertTrue(html.contains("<img src=\"objective.png\"") && html.contains("rungs.png"), html);
        int bestTrial = after.get(0).value() >= after.get(2).value() ? 0 : 2;
        assertEquals(TrainingRecipe.read(sweepDir.resolve(String.format("trials/%04d/recipe.yaml",
                bestTrial))), TrainingRecipe.read(sweepDir.resolve("best-recipe.yaml")),
                "the best recipe is the best trial's");
        assertEquals(2, Main.run("sweep", file.toString(), "--dir", root.toString()), "the name is taken");
    }

    /**
     * The parent of a {@code --parallel} sweep killed with SIGKILL: its worker processes notice (their standard input
     * ends), stop their trials with a checkpoint and exit, instead of running on as orphans until the budget ends.
     */
    @Test
    void theWorkersOfAKilledParallelSweepEndWithIt() throws Exception {
        Path file = dir.resolve("orphans.yaml");
        Files.writeString(file, """
                name: orphans
                recipe: training/lenet5-fashion-mnist.yaml
                set: {data.subset: 3000, epochs: 30, data.batchSize: 16, data.download: false}
                space:
                  overrides.updater.learningRate: {choice: [0.001, 0.002]}
                budget: {maxTrials: 2}
                strategy: {type: grid}
                """);
        Path root = dir.resolve("sweeps");
        Process parent = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx512m", "-cp", System.getProperty("java.class.path"), "org.zoo4j.cli.Main", "sweep",
                file.toString(), "--dir", root.toString(), "--parallel", "2").redirectErrorStream(true)
                .redirectOutput(dir.resolve("parent.log").toFile()).start();
        Path sweepDir = root.resolve("orphans");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(150);
        List<ProcessHandle> workers = List.of();
        boolean training = false;
        while (!training && parent.isAlive() && System.nanoTime() < deadline) {
            Thread.sleep(200);
            workers = parent.children().toList();
            training = workers.size() == 2 && SweepStore.exists(sweepDir) && SweepStore.open(sweepDir).trials()
                    .stream().filter(t -> t.state() == SweepStore.State.RUNNING).count() == 2;
        }
        assertTrue(training, "two workers never ran trials: " + Files.readString(dir.resolve("parent.log")));
        Thread.sleep(3000); // into their first epochs
        parent.destroyForcibly(); // SIGKILL: no shutdown hook of the parent runs
        assertTrue(parent.waitFor(30, TimeUnit.SECONDS));
        for (ProcessHandle worker : workers) {
            CompletableFuture<ProcessHandle> exit = worker.onExit();
            assertTrue(waitFor(exit, 90), "worker " + worker.pid() + " still runs after its parent died");
        }
        for (SweepStore.Trial t : SweepStore.open(sweepDir).trials()) {
            assertEquals(SweepStore.State.QUEUED, t.state(), "stopped with a checkpoint, to continue: " + t);
            assertTrue(Files.isRegularFile(sweepDir.resolve(String.format("trials/%04d/last.zip", t.number()))),
                    "trial " + t.number() + " left its checkpoint");
        }
    }

    private static boolean waitFor(CompletableFuture<ProcessHandle> exit, int seconds) throws Exception {
        try {
            exit.get(seconds, TimeUnit.SECONDS);
            return true;
        } catch (TimeoutException e) {
            return false;
        }
    }
}
