package org.zoo4j.spark;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.util.CollectionAccumulator;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.optimize.solvers.accumulation.encoding.threshold.AdaptiveThresholdAlgorithm;
import org.deeplearning4j.spark.api.Repartition;
import org.deeplearning4j.spark.api.RepartitionStrategy;
import org.deeplearning4j.spark.api.TrainingMaster;
import org.deeplearning4j.spark.impl.graph.SparkComputationGraph;
import org.deeplearning4j.spark.impl.paramavg.ParameterAveragingTrainingMaster;
import org.deeplearning4j.spark.parameterserver.training.SharedTrainingMaster;
import org.nd4j.parameterserver.distributed.conf.VoidConfiguration;
import org.zoo4j.base.AtomicFiles;
import org.zoo4j.base.ConfigException;
import org.zoo4j.data.DataException;
import org.zoo4j.data.DataPipeline;
import org.zoo4j.recipe.SparkSettings;
import org.zoo4j.recipe.TrainingRecipe;
import org.zoo4j.training.DistributedTraining;
import org.zoo4j.training.TrainingLoop;

/**
 * A network trained on Spark, one epoch per call: the epoch's batches are named in an RDD
 * ({@link PipelineBatches#key}) that DL4J's training master hands to the workers, and each executor builds its
 * batches itself. With parameter averaging, round r of an epoch trains its batches r*W*F to (r+1)*W*F-1 (W workers, F
 * the averaging frequency), F consecutive ones per worker, so which worker trains which batch depends on nothing but
 * the settings. The driver's network object is the one that is trained: parameter averaging writes the averaged
 * parameters and updater state into it after every round, gradient sharing applies the workers' updates to it as
 * they come.
 *
 * <p>Parameter averaging gets a new training master per epoch, which sends the network as it is now, with the
 * learning rate the schedule has just set. Gradient sharing keeps one for the run: its executors keep their trainers
 * from the first epoch on (a new master would restart the parameter server, which DL4J M2 does not do reliably), and
 * the epoch's learning rates reach them with the batches ({@link SharedTrainers}).
 */
final class SparkEpochs implements DistributedTraining.Session {
    private final TrainingRecipe recipe;
    private final SparkSettings settings;
    private final DataPipeline data;
    private final ComputationGraph net;
    private final Path runDir;
    private final SparkClusters.Cluster cluster;
    private final ExecutorData.Spec spec;
    private final StepFeed feed = new StepFeed();
    private final int workers;
    private TrainingMaster<?, ?> sharing;

    SparkEpochs(TrainingRecipe recipe, DataPipeline data, ComputationGraph net, Path runDir,
                SparkClusters.Cluster cluster, ExecutorData.Spec spec) {
        this.recipe = recipe;
        this.settings = recipe.spark();
        this.data = data;
        this.net = net;
        this.runDir = runDir;
        this.cluster = cluster;
        this.spec = spec;
        this.workers = settings.workers() > 0 ? settings.workers() : Math.max(1, cluster.slots());
        cluster.context().sc().addSparkListener(feed);
    }

    @Override
    public String describe() {
        String how = settings.trainingMaster() == SparkSettings.Mode.AVERAGING
                ? "parameter averaging every " + settings.averagingFrequency() + " batches"
                : "gradient sharing (threshold encoding, starting threshold " + settings.threshold() + ")";
        return String.format(Locale.ROOT, "spark: %s on %s, %d workers, each on its own batch of %d (%d images per "
                        + "step together; the learning rate is not scaled for it); %s", how, cluster.master(), workers,
                recipe.data().batchSize(), workers * recipe.data().batchSize(),
                settings.data() == SparkSettings.DataSource.PIPELINE
                        ? "each executor builds its batches with the data pipeline"
                        : "batches exported to " + exportRoot() + " for the executors");
    }

    @Override
    public TrainingLoop.Status epoch(int epoch, int firstBatch, TrainingLoop.BatchSink sink,
                                     BooleanSupplier stopRequested, Consumer<String> log) {
        JavaSparkContext sc = cluster.context();
        int numBatches = data.train().numBatches();
        List<String> keys = new ArrayList<>();
        EpochLoader loader;
        Path exported = null;
        if (settings.data() == SparkSettings.DataSource.EXPORT) {
            exported = export(epoch, firstBatch, keys);
            loader = new ExportedBatches();
        } else {
            for (int b = firstBatch; b < numBatches; b++) {
                keys.add(PipelineBatches.key(epoch, b));
            }
            loader = new PipelineBatches(spec);
        }
        boolean averaging = settings.trainingMaster() == SparkSettings.Mode.AVERAGING;
        String group = "zoo4j-epoch-" + (epoch + 1) + "-" + System.nanoTime();
        CollectionAccumulator<double[]> steps = sc.sc().collectionAccumulator("zoo4j steps, epoch " + (epoch + 1));
        if (!averaging) {
            Map<String, Double> rates = SharedTrainers.ratesOf(net);
            thresholdWarning(rates, settings.threshold()).ifPresent(log);
            loader.sharing(epoch, rates, steps);
        }
        TrainingMaster<?, ?> master = master(epoch);
        master.setListeners(List.of(new WorkerListener(steps, !averaging)));
        SparkComputationGraph sparkNet = new SparkComputationGraph(sc, net, master);
        feed.start(steps.id(), sink, () -> sc.cancelJobGroup(group));
        Thread stopWatch = new Thread(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                if (stopRequested.getAsBoolean()) {
                    sc.cancelJobGroup(group);
                    return;
                }
                try {
                    Thread.sleep(200);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "zoo4j-spark-stop-watch");
        stopWatch.setDaemon(true);
        long start = System.nanoTime();
        Exception failure = null;
        sc.setJobGroup(group, "zoo4j: epoch " + (epoch + 1) + " of " + runDir.getFileName(), true);
        stopWatch.start();
        try {
            // Parameter averaging: one fitPaths call per averaging round, of exactly workers x averagingFrequency
            // batches in their epoch order (the last round may be smaller). Given a whole epoch, DL4J M2 splits it
            // into floor(batches / round) rounds and each worker trains at most averagingFrequency batches of its
            // share: the batches beyond are silently left out. Gradient sharing takes the whole epoch at once.
            int round = averaging ? workers * settings.averagingFrequency() : Math.max(1, keys.size());
            int tasks = averaging ? workers : sharingTasks();
            for (int from = 0; from < keys.size() && failure == null && feed.stopped() == null
                    && !stopRequested.getAsBoolean(); from += round) {
                List<String> chunk = keys.subList(from, Math.min(keys.size(), from + round));
                JavaRDD<String> paths = sc.parallelize(chunk, Math.min(tasks, chunk.size()));
                try {
                    sparkNet.fitPaths(paths, loader);
                } catch (Exception e) { // also Spark's SparkException, which Scala code throws undeclared
                    failure = e;
                } finally {
                    paths.unpersist(false);
                }
            }
        } finally {
            stopWatch.interrupt();
            sc.clearJobGroup();
            if (exported != null) {
                deleteQuietly(exported);
            }
        }
        // The last task ends reach the listener thread just after the job. With gradient sharing the last few batches'
        // losses reach the driver only with the next epoch's tasks: no full count to wait for.
        long until = System.currentTimeMillis() + (averaging ? 10_000 : 1_000);
        while (failure == null && (!averaging || feed.batches() < keys.size()) && System.currentTimeMillis() < until) {
            sleep(50);
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        double[] counted = feed.end();
        if (feed.stopped() != null) {
            return feed.stopped();
        }
        if (failure != null) {
            if (stopRequested.getAsBoolean()) {
                return TrainingLoop.Status.INTERRUPTED;
            }
            throw explain(failure, epoch);
        }
        if (sparkNet.getNetwork() != net) {
            net.setParams(sparkNet.getNetwork().params());
            if (net.getUpdater() != null && sparkNet.getNetwork().getUpdater() != null) {
                net.getUpdater().getStateViewArray().assign(sparkNet.getNetwork().getUpdater().getStateViewArray());
            }
        }
        log.accept(summary(epoch, counted, seconds));
        return stopRequested.getAsBoolean() ? TrainingLoop.Status.INTERRUPTED : null;
    }

    /**
     * The epoch in one line: batches, workers, time, and how much of the workers' time went into training steps
     * (measured between one batch's end and the next in each worker; a task's first batch, which also waits for
     * the network to arrive, counts at the mean) and how much into everything else: sending the network, averaging
     * or exchanging updates, scheduling, and waiting for the slowest worker.
     */
    private String summary(int epoch, double[] counted, double seconds) {
        int batches = (int) counted[0];
        double meanStep = counted[2] > 0 ? counted[1] / counted[2] : Double.NaN;
        double training = Double.isNaN(meanStep) ? Double.NaN : meanStep * batches / 1e9 / (workers * seconds);
        return String.format(Locale.ROOT, "spark epoch %d: %d batches on %d workers in %.1f s, %.0f img/s; a training "
                        + "step %.0f ms in a worker; steps %.0f%% of the workers' time, communication and waiting %.0f%%",
                epoch + 1, batches, workers, seconds, Math.min(batches * (double) recipe.data().batchSize(),
                        data.trainSize()) / seconds, meanStep / 1e6, 100 * Math.min(1, training),
                100 * Math.max(0, 1 - training));
    }

    /**
     * A warning when every layer's learning rate is below gradient sharing's threshold: an update of about the rate's
     * size (Adam's, for one) then has no element above the threshold, and the encoding may send and apply nothing.
     * Seen with Adam at 1e-4 and the threshold at 1e-3: three epochs left the network as it was; at 1e-5 it trained.
     */
    static Optional<String> thresholdWarning(Map<String, Double> rates, double threshold) {
        double top = rates.values().stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN);
        if (!(top < threshold)) {
            return Optional.empty();
        }
        return Optional.of(String.format(Locale.ROOT, "spark: the learning rate (at most %.3g) is below spark.threshold "
                + "%.3g: gradient sharing may send no update at all and the network not change; lower spark.threshold "
                + "to about a tenth of the rate (--set spark.threshold=%.1g)", top, threshold, top / 10));
    }

    /** The epoch's batches written for the executors; their paths into {@code keys}. */
    private Path export(int epoch, int firstBatch, List<String> keys) {
        Path dir = exportRoot().resolve(String.format(Locale.ROOT, "epoch-%04d", epoch + 1));
        try {
            AtomicFiles.deleteTree(dir);
            Files.createDirectories(dir);
            for (int b = firstBatch; b < data.train().numBatches(); b++) {
                Path file = dir.resolve(String.format(Locale.ROOT, "batch-%06d.bin", b));
                data.train().batch(epoch, b).save(file.toFile());
                keys.add(file.toAbsolutePath().toString());
            }
        } catch (IOException e) {
            throw new ConfigException("spark.exportDirectory: cannot write the batches to " + dir + ": "
                    + e.getMessage(), e);
        }
        return dir;
    }

    private Path exportRoot() {
        return settings.exportDirectory() != null ? Path.of(settings.exportDirectory())
                : runDir.toAbsolutePath().resolve("spark-export");
    }

    private TrainingMaster<?, ?> master(int epoch) {
        int batch = recipe.data().batchSize();
        long seed = recipe.data().seed() * 1_000_003L + epoch;
        if (settings.trainingMaster() == SparkSettings.Mode.AVERAGING) {
            // numWorkers given: left null, fitPaths on a graph fails in DL4J M2 (it reads it from a null network).
            return new ParameterAveragingTrainingMaster.Builder(workers, batch).batchSizePerWorker(batch)
                    .averagingFrequency(settings.averagingFrequency()).workerPrefetchNumBatches(settings.prefetch())
                    .saveUpdater(true).repartionData(Repartition.Never).rngSeed(seed).collectTrainingStats(false)
                    .build();
        }
        if (sharing != null) {
            return sharing; // one for the run: DL4J M2's executors keep their trainer (see SharedTrainers)
        }
        VoidConfiguration.VoidConfigurationBuilder b = VoidConfiguration.builder()
                .portSupplier(new WorkerPorts(settings.port()));
        if (settings.networkMask() != null) {
            b.networkMask(settings.networkMask());
        } else {
            b.controllerAddress(controllerAddress());
        }
        int tasks = sharingTasks();
        return sharing = new SharedTrainingMaster.Builder(b.build(), tasks, new AdaptiveThresholdAlgorithm(settings.threshold()),
                batch).batchSizePerWorker(batch).workersPerNode(Math.max(1, workers / tasks))
                .workerPrefetchNumBatches(settings.prefetch())
                .repartitionData(Repartition.Always).repartitionStrategy(RepartitionStrategy.Balanced).rngSeed(seed)
                .collectTrainingStats(false).build();
    }

    /**
     * Gradient sharing's tasks: one per executor JVM (DL4J keeps one trainer per JVM, a static one, which all tasks of
     * that JVM feed; its workersPerNode threads share updates inside the JVM), so local[N] has one task with N threads.
     */
    private int sharingTasks() {
        return cluster.local() ? 1 : Math.max(1, Math.min(workers, cluster.executors()));
    }

    /** The driver's address as executors reach it: loopback on one host, else Spark's driver host. */
    private String controllerAddress() {
        if (cluster.local() || SparkClusters.loopback(cluster.master())) {
            return "127.0.0.1";
        }
        String host = cluster.context().getConf().get("spark.driver.host", null);
        try {
            return InetAddress.getByName(host != null ? host : InetAddress.getLocalHost().getHostName())
                    .getHostAddress();
        } catch (UnknownHostException e) {
            throw new ConfigException("spark.networkMask: the driver's address cannot be found (" + e.getMessage()
                    + "); set spark.networkMask to the cluster's network, e.g. 10.0.0.0/16");
        }
    }

    /** A failed epoch as an error that says what happened and what to change. */
    private RuntimeException explain(Exception e, int epoch) {
        String where = " in epoch " + (epoch + 1);
        if (cluster.lostExecutors()) {
            return new ConfigException(cluster.lostMessage() + where, e);
        }
        StringBuilder text = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause()) {
            text.append(t).append('\n');
        }
        String all = text.toString();
        int data = all.indexOf(DataException.class.getName() + ": ");
        if (data >= 0) {
            String message = all.substring(data + DataException.class.getName().length() + 2);
            message = message.lines().findFirst().orElse(message);
            return new DataException("spark: an executor could not read its batches" + where + ": " + message, e);
        }
        if (all.contains("OutOfMemoryError") || all.contains("exit code 52") || all.contains("physicalBytes")) {
            return new ConfigException("spark: an executor ran out of memory" + where + "; raise spark.executorMemory "
                    + "(now " + settings.executorMemory() + ") or lower data.batchSize", e);
        }
        return new IllegalStateException("spark: epoch " + (epoch + 1) + " failed on " + cluster.master() + ": "
                + e.getMessage(), e);
    }

    @Override
    public void close() {
        ExecutorData.unshare(spec);
        cluster.context().sc().removeSparkListener(feed);
        cluster.close();
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void deleteQuietly(Path dir) {
        try {
            AtomicFiles.deleteTree(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
