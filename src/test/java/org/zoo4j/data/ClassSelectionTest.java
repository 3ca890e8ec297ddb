package org.zoo4j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.zoo4j.base.InputShape;

/** data.classes and data.labelFraction on the real Fashion-MNIST: the transfer experiment's data. */
class ClassSelectionTest {
    private static final InputShape SHAPE = InputShape.of(1, 28, 28);

    private static DataConfig lastFive(double fraction) {
        return DataConfig.of("fashion-mnist").withDownload(false).withClasses(List.of(5, 6, 7, 8, 9))
                .withLabelFraction(fraction).withBatchSize(500);
    }

    private static int[] histogram(ImageBatchIterator it, int classes) {
        int[] counts = new int[classes];
        it.reset();
        while (it.hasNext()) {
            DataSet ds = it.next();
            INDArray labels = ds.getLabels().argMax(1);
            for (int i = 0; i < labels.length(); i++) {
                counts[labels.getInt(i)]++;
            }
        }
        return counts;
    }

    @Test
    void aClassSelectionIsRelabelledAndALabelFractionIsStratifiedAndSeeded() {
        try (DataPipeline p = DataPipeline.open(lastFive(0.01), SHAPE)) {
            assertEquals(List.of("Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"), p.labels());
            assertEquals(300, p.trainSize() + p.validationSize(), "1% of the 30,000 training images of 5 classes");
            assertEquals(5000, p.testSize(), "every test image of the 5 classes is kept");
            int[] train = histogram(p.train(), 5);
            int[] test = histogram(p.test(), 5);
            for (int c = 0; c < 5; c++) {
                assertTrue(train[c] >= 50 && train[c] <= 56, "stratified: class " + c + " has " + train[c]);
                assertEquals(1000, test[c]);
            }
            try (DataPipeline again = DataPipeline.open(lastFive(0.01), SHAPE)) {
                p.train().setEpoch(0);
                again.train().setEpoch(0);
                assertEquals(p.train().next().getFeatures(), again.train().next().getFeatures(), "seeded: same images");
            }
        }
        try (DataPipeline p = DataPipeline.open(lastFive(0.1), SHAPE)) {
            assertEquals(3000, p.trainSize() + p.validationSize());
        }
        DataException e = assertThrows(DataException.class, () -> DataPipeline.open(
                DataConfig.of("fashion-mnist").withDownload(false).withClasses(List.of(3, 10)), SHAPE));
        assertTrue(e.getMessage().contains("data.classes") && e.getMessage().contains("10"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> lastFive(0));
        assertThrows(IllegalArgumentException.class, () -> DataConfig.of("mnist").withClasses(List.of(1, 1)));
    }
}
