package org.zoo4j.training;

import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.IntSupplier;
import org.bytedeco.javacpp.Pointer;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.api.ParamInitializer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.FeedForwardLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.params.BatchNormalizationParamInitializer;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.zoo4j.base.Configs;

/**
 * Per-step statistics of a training run, for the dashboard: every {@code every} training iterations one JSON line is
 * appended to the run's {@value #FILE}:
 * <pre>
 * {"type":"step","step":40,"epoch":1,"time":1767225600000,"loss":0.71,"lr":0.002,"imagesPerSecond":3391.2,
 *  "heapBytes":...,"rssBytes":...,
 *  "layers":[{"name":"conv1","param":0.113,"update":2.1e-4,"log10Ratio":-2.73}, ...],"statsMillis":1.6}
 * </pre>
 * {@code step} counts trained batches over the whole run (it continues after a resume; a reader keeps the last line
 * written for a step, since a resumed run repeats the steps after its checkpoint), {@code loss} is the mean training
 * loss of the batches since the previous line, {@code lr} the first layer's learning rate, {@code imagesPerSecond} the
 * throughput since the previous line, the memory figures are the JVM heap in use and the process's resident set (as
 * JavaCPP reads it from the OS: heap, ND4J's native arrays and everything else). Per layer with trainable
 * parameters (batch norm's running mean and variance left out): the mean absolute parameter, the mean
 * absolute update the step applied to it, and log10 of update over parameter (around -3 is the usual rule of thumb;
 * much higher is a rate too large, much lower one too small or a layer that does not learn). {@code statsMillis} is
 * the time the recorder took to gather the line, its own cost (LeNet-5: about 1.6 ms a line). A first line of type
 * {@code start} lists the network's layers, its outputs and the settings.
 *
 * <p>The update is read where DL4J's own StatsListener reads it: after a step the updater has turned the gradient view
 * of the network into the update it then subtracts from the parameters, in place, so {@code iterationDone} sees the
 * applied update (learning rate, momentum, Adam's scaling, weight decay and clipping included) without a copy. With
 * several workers ({@link ParallelFit}) the replicas train and the main network only receives their average: the
 * update is then the main network's parameter change across one averaging round, measured from a copy of its trainable
 * parameters taken at a recorded step.
 *
 * <p>The loop attaches it ({@link TrainingLoopBuilder#statsEvery}); off by default, so a run that does not ask for
 * it trains exactly as before. The statistics are a few reductions per layer every {@code every} steps and one flushed
 * line; a failure to write is logged once and never stops the run.
 */
public final class StatsRecorder extends BaseTrainingListener {
    /** The file in the run directory. */
    public static final String FILE = "stats.jsonl";

    /** Batch norm's running mean and variance: parameters to DL4J, but estimated, not trained. */
    private static final Set<String> RUNNING_STATISTICS = Set.of(BatchNormalizationParamInitializer.GLOBAL_MEAN,
            BatchNormalizationParamInitializer.GLOBAL_VAR, BatchNormalizationParamInitializer.GLOBAL_LOG_STD);
    private static final ObjectWriter LINE = Configs.json().writer().without(SerializationFeature.INDENT_OUTPUT);

    private final Model main;
    private final RunDirectory run;
    private final int every;
    private final int workers;
    private final IntSupplier epoch;

    private BufferedWriter out;
    private boolean failed;
    private List<TrainingListener> previousListeners;
    private long step;
    private long lastTime;
    private long images;
    private double lossSum;
    private int losses;
    private int lastEpoch = -1;
    /** Workers: the main network's trainable parameters at {@link #snapshotStep}, by layer and parameter key. */
    private Map<String, Map<String, INDArray>> snapshot;
    private long snapshotStep;

    /**
     * @param main    the network the loop trains (with several workers: the one their average is written to)
     * @param every   iterations between lines, at least 1
     * @param workers the loop's workers: 1 attaches to {@code main}; more are attached by {@link ParallelFit}
     * @param epoch   the epoch (from 1) being trained now
     */
    StatsRecorder(Model main, RunDirectory run, int every, int workers, IntSupplier epoch) {
        if (every < 1) {
            throw new IllegalArgumentException("statsEvery: at least 1, got " + every);
        }
        this.main = main;
        this.run = run;
        this.every = every;
        this.workers = workers;
        this.epoch = epoch;
    }

    /** Opens the file, writes the start line and, with one worker, adds this listener to the network. */
    synchronized void attach() {
        step = iterationCount(main);
        lastTime = System.nanoTime();
        Map<String, Object> start = new LinkedHashMap<>();
        start.put("type", "start");
        start.put("time", System.currentTimeMillis());
        start.put("step", step);
        start.put("every", every);
        start.put("workers", workers);
        start.put("outputs", outputs(main));
        List<Map<String, Object>> network = new ArrayList<>();
        for (Layer layer : layers(main)) {
            Map<String, Object> l = new LinkedHashMap<>();
            l.put("name", name(layer));
            l.put("type", layer.conf().getLayer().getClass().getSimpleName());
            l.put("params", layer.numParams());
            network.add(l);
        }
        start.put("network", network);
        write(start);
        if (workers == 1) {
            Collection<TrainingListener> current = listeners(main);
            previousListeners = current == null ? List.of() : new ArrayList<>(current);
            List<TrainingListener> with = new ArrayList<>(previousListeners);
            with.add(this);
            setListeners(main, with);
        }
    }

    /** Removes this listener from the network again and closes the file. */
    synchronized void detach() {
        if (previousListeners != null) {
            setListeners(main, previousListeners);
            previousListeners = null;
        }
        snapshot = null;
        if (out != null) {
            try {
                out.close();
            } catch (IOException e) {
                // every line was flushed when written
            }
            out = null;
        }
    }

    @Override
    public synchronized void iterationDone(Model model, int iteration, int epochCount) {
        step++;
        images += model.batchSize();
        double loss = model.score();
        if (Double.isFinite(loss)) {
            lossSum += loss;
            losses++;
        }
        int e = epoch.getAsInt();
        if (e != lastEpoch) {
            lastEpoch = e;
            snapshot = null; // a new ParallelWrapper per epoch: rounds start again
        }
        long began = System.nanoTime();
        if (workers == 1) {
            if (step % every == 0) {
                record(e, updatesFromGradientView(model), began);
            }
        } else if (snapshot != null && step >= snapshotStep + workers) {
            // One averaging round later: the main network has changed exactly once since the copy.
            Map<String, double[]> updates = updatesFromChange();
            snapshot = null;
            record(e, updates, began);
        } else if (snapshot == null && step % every == 0) {
            snapshot = trainableCopy();
            snapshotStep = step;
        }
    }

    private void record(int e, Map<String, double[]> updates, long began) {
        double seconds = (began - lastTime) / 1e9;
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("type", "step");
        line.put("step", step);
        line.put("epoch", e);
        line.put("time", System.currentTimeMillis());
        line.put("loss", finite(losses == 0 ? Double.NaN : lossSum / losses));
        line.put("lr", finite(TrainableNetwork.of(main).learningRates().values().stream().findFirst()
                .orElse(Double.NaN)));
        line.put("imagesPerSecond", finite(seconds > 0 ? images / seconds : Double.NaN));
        Runtime rt = Runtime.getRuntime();
        line.put("heapBytes", rt.totalMemory() - rt.freeMemory());
        line.put("rssBytes", Pointer.physicalBytes());
        List<Map<String, Object>> layers = new ArrayList<>();
        for (Layer layer : layers(main)) {
            Map<String, INDArray> params = trainable(layer, layer.paramTable());
            if (params.isEmpty()) {
                continue;
            }
            double param = meanAbs(params.values());
            double[] u = updates.get(name(layer));
            double update = u == null || u[1] == 0 ? Double.NaN : u[0] / u[1];
            Map<String, Object> l = new LinkedHashMap<>();
            l.put("name", name(layer));
            l.put("param", finite(param));
            l.put("update", finite(update));
            l.put("log10Ratio", finite(Math.log10(update / param)));
            layers.add(l);
        }
        line.put("layers", layers);
        line.put("statsMillis", Math.round((System.nanoTime() - began) / 1e4) / 100.0);
        write(line);
        lastTime = began;
        images = 0;
        lossSum = 0;
        losses = 0;
    }

    /** Sum of |update| and count per layer, from the gradient view the updater has just turned into the update. */
    private Map<String, double[]> updatesFromGradientView(Model model) {
        Map<String, double[]> sums = new LinkedHashMap<>();
        for (Layer layer : layers(model)) {
            INDArray view = layer.getGradientsViewArray();
            if (view == null || layer.numParams() == 0) {
                continue;
            }
            ParamInitializer init = layer.conf().getLayer().initializer();
            Map<String, INDArray> updates = trainable(layer, init.getGradientsFromFlattened(layer.conf(), view));
            sums.put(name(layer), sumAbs(updates.values()));
        }
        return sums;
    }

    /** Sum of |change| and count per layer between the copy and the main network's parameters now. */
    private Map<String, double[]> updatesFromChange() {
        Map<String, double[]> sums = new LinkedHashMap<>();
        for (Layer layer : layers(main)) {
            Map<String, INDArray> before = snapshot.get(name(layer));
            if (before == null) {
                continue;
            }
            double sum = 0;
            long count = 0;
            for (Map.Entry<String, INDArray> p : trainable(layer, layer.paramTable()).entrySet()) {
                INDArray was = before.get(p.getKey());
                if (was != null) {
                    sum += p.getValue().sub(was).norm1Number().doubleValue();
                    count += was.length();
                }
            }
            sums.put(name(layer), new double[] {sum, count});
        }
        return sums;
    }

    private Map<String, Map<String, INDArray>> trainableCopy() {
        Map<String, Map<String, INDArray>> copy = new LinkedHashMap<>();
        for (Layer layer : layers(main)) {
            Map<String, INDArray> params = new LinkedHashMap<>();
            trainable(layer, layer.paramTable()).forEach((k, v) -> params.put(k, v.dup()));
            if (!params.isEmpty()) {
                copy.put(name(layer), params);
            }
        }
        return copy;
    }

    /** The entries of a layer's parameter or gradient map that training changes: all but batch norm's statistics. */
    private static Map<String, INDArray> trainable(Layer layer, Map<String, INDArray> all) {
        boolean batchNorm = layer.conf().getLayer() instanceof BatchNormalization;
        Map<String, INDArray> kept = new LinkedHashMap<>();
        all.forEach((key, array) -> {
            if (array != null && array.length() > 0 && !(batchNorm && RUNNING_STATISTICS.contains(key))) {
                kept.put(key, array);
            }
        });
        return kept;
    }

    private static double[] sumAbs(Collection<INDArray> arrays) {
        double sum = 0;
        long count = 0;
        for (INDArray a : arrays) {
            sum += a.norm1Number().doubleValue();
            count += a.length();
        }
        return new double[] {sum, count};
    }

    private static double meanAbs(Collection<INDArray> arrays) {
        double[] s = sumAbs(arrays);
        return s[1] == 0 ? Double.NaN : s[0] / s[1];
    }

    private void write(Map<String, Object> line) {
        if (failed) {
            return;
        }
        try {
            if (out == null) {
                Files.createDirectories(run.path());
                Path file = run.path().resolve(FILE);
                boolean cutShort = endsMidLine(file);
                out = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                        StandardOpenOption.APPEND);
                if (cutShort) {
                    out.write('\n'); // a kill mid-line: end that line, so that this run's first one stays whole
                }
            }
            out.write(LINE.writeValueAsString(line));
            out.write('\n');
            out.flush();
        } catch (IOException e) {
            failed = true;
            run.log("(could not write " + FILE + ", per-step statistics stopped: " + e.getMessage() + ")");
        }
    }

    private static boolean endsMidLine(Path file) throws IOException {
        if (!Files.isRegularFile(file) || Files.size(file) == 0) {
            return false;
        }
        try (SeekableByteChannel in = Files.newByteChannel(file)) {
            ByteBuffer last = ByteBuffer.allocate(1);
            in.position(in.size() - 1).read(last);
            return last.get(0) != '\n';
        }
    }

    /** JSON has no NaN or infinity: such a value is written as null. */
    private static Double finite(double v) {
        return Double.isFinite(v) ? v : null;
    }

    private static Layer[] layers(Model model) {
        return TrainableNetwork.of(model).layers();
    }

    private static String name(Layer layer) {
        String name = layer.conf().getLayer().getLayerName();
        return name != null ? name : "#" + layer.getIndex();
    }

    private static long iterationCount(Model model) {
        return model instanceof ComputationGraph g ? g.getConfiguration().getIterationCount()
                : ((MultiLayerNetwork) model).getLayerWiseConfigurations().getIterationCount();
    }

    private static long outputs(Model model) {
        return model instanceof ComputationGraph g ? g.getConfiguration().getNetworkOutputs().stream()
                .mapToLong(o -> g.getLayer(o) == null ? 0 : nOut(g.getLayer(o))).sum()
                : nOut(((MultiLayerNetwork) model).getOutputLayer());
    }

    private static long nOut(Layer layer) {
        return layer.conf().getLayer() instanceof FeedForwardLayer f ? f.getNOut() : 0;
    }

    private static Collection<TrainingListener> listeners(Model model) {
        return model instanceof ComputationGraph g ? g.getListeners() : ((MultiLayerNetwork) model).getListeners();
    }

    private static void setListeners(Model model, Collection<TrainingListener> listeners) {
        if (model instanceof ComputationGraph g) {
            g.setListeners(listeners);
        } else {
            ((MultiLayerNetwork) model).setListeners(listeners);
        }
    }
}
