package org.zoo4j.sweep;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import org.sqlite.SQLiteConfig;
import org.zoo4j.base.ConfigException;
import org.zoo4j.base.Configs;

/**
 * A sweep's state in an SQLite database ({@code sweep.db}), shared by every worker process of the sweep: the sweep's
 * definition, its trials (state, parameters, value, reason, run directory, which worker holds it) and each trial's
 * per-epoch objective values. Writes that decide who runs what are {@code BEGIN IMMEDIATE} transactions, so two
 * processes never take the same trial; a busy timeout makes them wait for each other instead of failing on the lock.
 */
public final class SweepStore {
    public enum State { QUEUED, RUNNING, COMPLETE, PRUNED, FAILED }

    /**
     * One trial.
     *
     * @param number       0, 1, ...: also its run directory trials/NNNN
     * @param state        queued (to be continued), running, complete, pruned or failed
     * @param point        its point of the search space's unit cube
     * @param params       the recipe settings it runs with
     * @param value        its best epoch's objective (null until an epoch finished)
     * @param testAccuracy the test accuracy of its best model (complete trials)
     * @param epochs       epochs finished
     * @param reason       why it was pruned, failed or queued again
     * @param worker       host:pid of the process that holds or last held it
     * @param attempts     how many times a worker took it
     * @param seconds      wall time spent on it
     */
    public record Trial(int number, State state, double[] point, Map<String, String> params, Double value,
                        Double testAccuracy, int epochs, String reason, String worker, int attempts, double seconds) {
    }

    /** What a claim gives a worker: the trial, and whether it was continued rather than new. */
    public record Claim(Trial trial, boolean continued) {
    }

    /** Proposes a new trial's point and settings, from the number it will get and the finished trials. */
    public interface Proposer {
        /** Null when there are no candidates left. */
        Map.Entry<double[], Map<String, String>> propose(int number, List<Trial> trials);
    }

    /** Milliseconds after its last heartbeat before a running trial of a worker on another host counts as dead. */
    static final long LEASE_MILLIS = 120_000;
    /** A trial whose workers died this many times is failed rather than tried again. */
    static final int MAX_ATTEMPTS = 3;

    private final String url;
    private final SQLiteConfig config;
    public static final String WORKER = ManagementFactory.getRuntimeMXBean().getName(); // pid@host

    private SweepStore(Path db, boolean readOnly) {
        this(db, readOnly, true);
    }

    /** {@code wal}: in write-ahead-log mode (every store in use); off only while a new store is made. */
    private SweepStore(Path db, boolean readOnly, boolean wal) {
        this.url = "jdbc:sqlite:" + db.toAbsolutePath();
        this.config = new SQLiteConfig();
        if (readOnly) {
            // Reads only, in deferred transactions: it never takes the write lock the workers claim trials under.
            config.setReadOnly(true);
            config.setBusyTimeout(10_000);
            config.setTransactionMode(SQLiteConfig.TransactionMode.DEFERRED);
        } else {
            config.setJournalMode(wal ? SQLiteConfig.JournalMode.WAL : SQLiteConfig.JournalMode.DELETE);
            config.setSynchronous(SQLiteConfig.SynchronousMode.NORMAL);
            config.setBusyTimeout(120_000);
            config.setTransactionMode(SQLiteConfig.TransactionMode.IMMEDIATE);
        }
    }

    /**
     * Opens (creating if needed) the store of the sweep in {@code dir}. A new store is made with its tables under a
     * temporary name and then linked in as {@code sweep.db}, so that a reader ({@link #openReadOnly}, the dashboard)
     * never finds a {@code sweep.db} without them; where two processes create it at once, the first link wins.
     */
    public static SweepStore open(Path dir) throws IOException {
        Files.createDirectories(dir);
        Path db = dir.resolve("sweep.db");
        if (!Files.exists(db)) {
            // Empty (SQLite takes it as a new database), with the permissions the umask gives, as sweep.db had
            Path fresh = Files.createFile(dir.resolve(".sweep-" + UUID.randomUUID() + ".db"));
            try {
                // Without a write-ahead log: the tables are in the file itself once committed.
                new SweepStore(fresh, false, false).createTables();
                try {
                    Files.createLink(db, fresh);
                } catch (FileAlreadyExistsException e) {
                    // another process put its store in place first: use that one
                } catch (UnsupportedOperationException | FileSystemException e) {
                    try {
                        Files.move(fresh, db); // a file system without hard links; a move never replaces a store
                    } catch (FileAlreadyExistsException again) {
                        // another process's store came first
                    }
                }
            } finally {
                Files.deleteIfExists(fresh);
                Files.deleteIfExists(Path.of(fresh + "-journal"));
            }
        }
        SweepStore store = new SweepStore(db, false);
        store.createTables(); // a store from before a table was added gains it
        return store;
    }

    private void createTables() throws IOException {
        transaction(c -> {
            try (Statement s = c.createStatement()) {
                s.executeUpdate("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
                s.executeUpdate("CREATE TABLE IF NOT EXISTS trials (number INTEGER PRIMARY KEY, state TEXT NOT NULL, "
                        + "point TEXT NOT NULL, params TEXT NOT NULL, value REAL, test_accuracy REAL, "
                        + "epochs INTEGER NOT NULL DEFAULT 0, reason TEXT, worker TEXT, heartbeat INTEGER, "
                        + "attempts INTEGER NOT NULL DEFAULT 0, seconds REAL NOT NULL DEFAULT 0, started INTEGER, "
                        + "finished INTEGER)");
                s.executeUpdate("CREATE TABLE IF NOT EXISTS intermediate (trial INTEGER NOT NULL REFERENCES "
                        + "trials(number), epoch INTEGER NOT NULL, value REAL NOT NULL, PRIMARY KEY (trial, epoch))");
            }
            return null;
        });
    }

    /**
     * The store of the sweep in {@code dir}, opened read-only (SQLite's read-only mode: it creates, changes and locks
     * nothing), for a viewer such as the dashboard while workers run; only the reading methods work.
     */
    public static SweepStore openReadOnly(Path dir) {
        if (!exists(dir)) {
            throw new ConfigException(dir + " holds no sweep (no sweep.db)");
        }
        return new SweepStore(dir.resolve("sweep.db"), true);
    }

    public static boolean exists(Path dir) {
        return Files.isRegularFile(dir.resolve("sweep.db"));
    }

    interface Work<T> {
        T run(Connection c) throws SQLException;
    }

    /** Runs {@code work} in one immediate transaction on a fresh connection. */
    <T> T transaction(Work<T> work) throws IOException {
        try (Connection c = config.createConnection(url)) {
            c.setAutoCommit(false);
            try {
                T result = work.run(c);
                c.commit();
                return result;
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e;
            }
        } catch (SQLException e) {
            throw new IOException("sweep store " + url + ": " + e.getMessage(), e);
        }
    }

    public void putMeta(String key, String value) throws IOException {
        transaction(c -> {
            try (PreparedStatement p = c.prepareStatement("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)")) {
                p.setString(1, key);
                p.setString(2, value);
                p.executeUpdate();
            }
            return null;
        });
    }

    public String meta(String key) throws IOException {
        return transaction(c -> {
            try (PreparedStatement p = c.prepareStatement("SELECT value FROM meta WHERE key = ?")) {
                p.setString(1, key);
                try (ResultSet r = p.executeQuery()) {
                    return r.next() ? r.getString(1) : null;
                }
            }
        });
    }

    /**
     * Gives this worker a trial: first one whose worker died (queued again, to continue from its checkpoint), then a
     * queued one, then a new one from {@code proposer} while fewer than {@code maxTrials} (0 = any number) exist.
     * Null when there is nothing left to run.
     */
    public Claim claim(int maxTrials, Proposer proposer) throws IOException {
        return transaction(c -> {
            long now = System.currentTimeMillis();
            requeueDead(c, now);
            try (PreparedStatement p = c.prepareStatement(
                    "SELECT number FROM trials WHERE state = 'queued' ORDER BY number LIMIT 1");
                 ResultSet r = p.executeQuery()) {
                if (r.next()) {
                    int number = r.getInt(1);
                    take(c, number, now);
                    return new Claim(trial(c, number), true);
                }
            }
            List<Trial> all = trials(c);
            if (maxTrials > 0 && all.size() >= maxTrials) {
                return null;
            }
            int number = all.size();
            Map.Entry<double[], Map<String, String>> proposal = proposer.propose(number, all);
            if (proposal == null) {
                return null;
            }
            try (PreparedStatement p = c.prepareStatement("INSERT INTO trials (number, state, point, params) "
                    + "VALUES (?, 'queued', ?, ?)")) {
                p.setInt(1, number);
                p.setString(2, Configs.toJson(proposal.getKey()));
                p.setString(3, Configs.toJson(proposal.getValue()));
                p.executeUpdate();
            }
            take(c, number, now);
            return new Claim(trial(c, number), false);
        });
    }

    /** Running trials whose worker is gone go back to the queue; after MAX_ATTEMPTS deaths they fail. */
    private static void requeueDead(Connection c, long now) throws SQLException {
        List<int[]> dead = new ArrayList<>();
        try (PreparedStatement p = c.prepareStatement(
                "SELECT number, worker, heartbeat, attempts FROM trials WHERE state = 'running'");
             ResultSet r = p.executeQuery()) {
            while (r.next()) {
                if (!alive(r.getString(2), r.getLong(3), now)) {
                    dead.add(new int[] {r.getInt(1), r.getInt(4)});
                }
            }
        }
        for (int[] d : dead) {
            boolean giveUp = d[1] >= MAX_ATTEMPTS;
            try (PreparedStatement p = c.prepareStatement("UPDATE trials SET state = ?, reason = ?, worker = NULL "
                    + "WHERE number = ?")) {
                p.setString(1, giveUp ? "failed" : "queued");
                p.setString(2, giveUp ? "its worker process died " + d[1] + " times (out of memory or a crash?); "
                        + "see its train.log" : "its worker process died; continued from its last checkpoint");
                p.setInt(3, d[0]);
                p.executeUpdate();
            }
        }
    }

    /** A worker on this host is alive while its process is; one elsewhere while its heartbeat is recent. */
    static boolean alive(String worker, long heartbeat, long now) {
        if (worker == null) {
            return false;
        }
        int at = worker.indexOf('@');
        String host = WORKER.substring(WORKER.indexOf('@') + 1);
        if (at > 0 && worker.substring(at + 1).equals(host)) {
            try {
                long pid = Long.parseLong(worker.substring(0, at));
                return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
            } catch (NumberFormatException e) {
                // not a pid: judge by the heartbeat
            }
        }
        return now - heartbeat < LEASE_MILLIS;
    }

    private static void take(Connection c, int number, long now) throws SQLException {
        try (PreparedStatement p = c.prepareStatement("UPDATE trials SET state = 'running', worker = ?, heartbeat = ?, "
                + "attempts = attempts + 1, started = COALESCE(started, ?) WHERE number = ?")) {
            p.setString(1, WORKER);
            p.setLong(2, now);
            p.setLong(3, now);
            p.setInt(4, number);
            p.executeUpdate();
        }
    }

    /** Marks this worker's trial as still being worked on. */
    public void heartbeat(int number) throws IOException {
        transaction(c -> {
            try (PreparedStatement p = c.prepareStatement("UPDATE trials SET heartbeat = ? WHERE number = ? AND "
                    + "worker = ?")) {
                p.setLong(1, System.currentTimeMillis());
                p.setInt(2, number);
                p.setString(3, WORKER);
                p.executeUpdate();
            }
            return null;
        });
    }

    /** Records a finished epoch's objective and returns every trial's values by epoch, for the pruner. */
    public Map<Integer, Map<Integer, Double>> report(int number, int epoch, double value, double bestValue)
            throws IOException {
        return transaction(c -> {
            try (PreparedStatement p = c.prepareStatement(
                    "INSERT OR REPLACE INTO intermediate (trial, epoch, value) VALUES (?, ?, ?)")) {
                p.setInt(1, number);
                p.setInt(2, epoch);
                p.setDouble(3, value);
                p.executeUpdate();
            }
            try (PreparedStatement p = c.prepareStatement("UPDATE trials SET epochs = ?, value = ?, heartbeat = ? "
                    + "WHERE number = ?")) {
                p.setInt(1, epoch);
                p.setDouble(2, bestValue);
                p.setLong(3, System.currentTimeMillis());
                p.setInt(4, number);
                p.executeUpdate();
            }
            return intermediate(c);
        });
    }

    /** Ends this worker's hold on a trial. */
    public void finish(int number, State state, Double value, Double testAccuracy, String reason, double seconds)
            throws IOException {
        transaction(c -> {
            try (PreparedStatement p = c.prepareStatement("UPDATE trials SET state = ?, value = COALESCE(?, value), "
                    + "test_accuracy = ?, reason = ?, seconds = seconds + ?, finished = ?, worker = CASE WHEN ? = "
                    + "'queued' THEN NULL ELSE worker END WHERE number = ?")) {
                String s = state.name().toLowerCase(Locale.ROOT);
                p.setString(1, s);
                p.setObject(2, value);
                p.setObject(3, testAccuracy);
                p.setString(4, reason);
                p.setDouble(5, seconds);
                p.setLong(6, System.currentTimeMillis());
                p.setString(7, s);
                p.setInt(8, number);
                p.executeUpdate();
            }
            return null;
        });
    }

    public List<Trial> trials() throws IOException {
        return transaction(SweepStore::trials);
    }

    public Map<Integer, Map<Integer, Double>> intermediate() throws IOException {
        return transaction(SweepStore::intermediate);
    }

    private static Map<Integer, Map<Integer, Double>> intermediate(Connection c) throws SQLException {
        Map<Integer, Map<Integer, Double>> values = new TreeMap<>();
        try (PreparedStatement p = c.prepareStatement("SELECT trial, epoch, value FROM intermediate");
             ResultSet r = p.executeQuery()) {
            while (r.next()) {
                values.computeIfAbsent(r.getInt(1), t -> new TreeMap<>()).put(r.getInt(2), r.getDouble(3));
            }
        }
        return values;
    }

    private static List<Trial> trials(Connection c) throws SQLException {
        List<Trial> all = new ArrayList<>();
        try (PreparedStatement p = c.prepareStatement(SELECT + " ORDER BY number"); ResultSet r = p.executeQuery()) {
            while (r.next()) {
                all.add(row(r));
            }
        }
        return all;
    }

    private static Trial trial(Connection c, int number) throws SQLException {
        try (PreparedStatement p = c.prepareStatement(SELECT + " WHERE number = ?")) {
            p.setInt(1, number);
            try (ResultSet r = p.executeQuery()) {
                r.next();
                return row(r);
            }
        }
    }

    private static final String SELECT = "SELECT number, state, point, params, value, test_accuracy, epochs, reason, "
            + "worker, attempts, seconds FROM trials";

    @SuppressWarnings("unchecked")
    private static Trial row(ResultSet r) throws SQLException {
        Map<String, String> params = new LinkedHashMap<>(Configs.fromJson(r.getString(4), LinkedHashMap.class));
        return new Trial(r.getInt(1), State.valueOf(r.getString(2).toUpperCase(Locale.ROOT)),
                Configs.fromJson(r.getString(3), double[].class), params, r.getObject(5) == null ? null
                : r.getDouble(5), r.getObject(6) == null ? null : r.getDouble(6), r.getInt(7), r.getString(8),
                r.getString(9), r.getInt(10), r.getDouble(11));
    }
}
