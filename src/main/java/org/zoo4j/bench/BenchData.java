package org.zoo4j.bench;

import java.util.ArrayList;
import java.util.List;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.zoo4j.base.InputShape;
import org.zoo4j.data.DataConfig;
import org.zoo4j.data.DataPipeline;
import org.zoo4j.data.ImageBatchIterator;
import org.zoo4j.data.NormalizationMode;

/** The images a benchmark trains on: real Fashion-MNIST through zoo4j's pipeline, or random images. */
final class BenchData {
    private BenchData() {
    }

    /** The data as zoo4j's loop reads it: no augmentation, standardised, no validation split, a subset. */
    static DataConfig pipeline(int batch, int images) {
        return DataConfig.of("fashion-mnist").withBatchSize(batch).withFractions(0, 0).withSubset(images)
                .withNormalization(NormalizationMode.STANDARDIZE).withDownload(false);
    }

    /** {@code count} batches of the network's input, copied out of the pipeline (or random), to keep in memory. */
    static List<DataSet> batches(BenchNetwork network, int batch, int count) {
        InputShape shape = network.config().input();
        List<DataSet> out = new ArrayList<>();
        if (!network.realData()) {
            Nd4j.getRandom().setSeed(12345);
            for (int i = 0; i < count; i++) {
                INDArray labels = Nd4j.zeros(batch, 10);
                for (int j = 0; j < batch; j++) {
                    labels.putScalar(j, (i * batch + j) % 10, 1.0);
                }
                out.add(new DataSet(Nd4j.randn(DataType.FLOAT, batch, shape.channels(), shape.height(),
                        shape.width()), labels));
            }
            return out;
        }
        try (DataPipeline data = DataPipeline.open(pipeline(batch, batch * count), shape)) {
            ImageBatchIterator it = data.train();
            while (it.hasNext() && out.size() < count) {
                DataSet ds = it.next();
                out.add(new DataSet(ds.getFeatures().dup(), ds.getLabels().dup()));
            }
        }
        return out;
    }
}
