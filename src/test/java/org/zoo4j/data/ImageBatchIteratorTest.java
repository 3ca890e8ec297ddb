package org.zoo4j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.dataset.DataSet;
import org.zoo4j.base.InputShape;

class ImageBatchIteratorTest {
    private static final InputShape SHAPE = new InputShape(1, 4, 4);

    /** Images held in memory, each filled with its index plus its pixel number; every read notes its thread. */
    private static final class Recording implements ImageSource {
        final Set<String> threads = ConcurrentHashMap.newKeySet();
        final AtomicInteger reads = new AtomicInteger();

        @Override
        public int size() {
            return 40;
        }

        @Override
        public int label(int index) {
            return index % 2;
        }

        @Override
        public boolean read(int index, InputShape shape, float[] dst, int offset) {
            threads.add(Thread.currentThread().getName());
            reads.incrementAndGet();
            for (int i = 0; i < 16; i++) {
                dst[offset + i] = index + i;
            }
            return true;
        }

        @Override
        public String describe(int index) {
            return "image " + index;
        }

        @Override
        public boolean inMemory() {
            return true;
        }
    }

    private static ImageBatchIterator iterator(ImageSource source, ExecutorService workers) {
        return new ImageBatchIterator("train", source, IntStream.range(0, 40).toArray(), SHAPE, 8, List.of("a", "b"),
                AugmentConfig.parse("flip=0.5,crop=1"), true, Normalization.scale(), 11, workers, 4);
    }

    private static List<DataSet> epoch(ImageBatchIterator it) {
        List<DataSet> out = new ArrayList<>();
        while (it.hasNext()) {
            out.add(it.next());
        }
        return out;
    }

    @Test
    void withoutWorkersEachBatchIsBuiltOnTheCallingThreadWhenAskedForAndIsTheSameAsAWorkersBatch() {
        Recording inline = new Recording();
        ImageBatchIterator it = iterator(inline, null);
        assertEquals(0, inline.reads.get(), "nothing is built ahead");
        it.next();
        assertEquals(8, inline.reads.get(), "one batch, when asked for");
        assertEquals(Set.of(Thread.currentThread().getName()), inline.threads);

        Recording pooled = new Recording();
        ExecutorService workers = Executors.newFixedThreadPool(2, r -> new Thread(r, "worker"));
        try {
            ImageBatchIterator threaded = iterator(pooled, workers);
            it.setEpoch(0);
            for (int epoch = 0; epoch < 2; epoch++) {
                List<DataSet> a = epoch(it);
                List<DataSet> b = epoch(threaded);
                assertEquals(5, a.size());
                for (int i = 0; i < a.size(); i++) {
                    assertEquals(b.get(i).getFeatures(), a.get(i).getFeatures(), "epoch " + epoch + ", batch " + i);
                    assertEquals(b.get(i).getLabels(), a.get(i).getLabels(), "epoch " + epoch + ", batch " + i);
                }
                it.reset();
                threaded.reset();
            }
            assertEquals(Set.of("worker"), pooled.threads);
            assertEquals(Set.of(Thread.currentThread().getName()), inline.threads);
            assertFalse(it.prefetches());
            assertTrue(threaded.prefetches());
        } finally {
            workers.shutdownNow();
        }
    }
}
