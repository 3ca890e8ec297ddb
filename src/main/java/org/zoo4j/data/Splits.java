package org.zoo4j.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/** Seeded, stratified selections of image indices: every class keeps its share. */
final class Splits {
    private Splits() {
    }

    /**
     * Picks {@code count} of {@code indices} so that each class gets its proportional share (largest remainders get
     * the leftover places); returns {picked, rest}, each in ascending order.
     */
    static int[][] stratified(int[] indices, ImageSource source, int classCount, int count, long seed) {
        count = Math.max(0, Math.min(count, indices.length));
        List<List<Integer>> byClass = new ArrayList<>();
        for (int c = 0; c < classCount; c++) {
            byClass.add(new ArrayList<>());
        }
        for (int i : indices) {
            byClass.get(source.label(i)).add(i);
        }
        int[] quota = new int[classCount];
        double[] remainder = new double[classCount];
        int given = 0;
        for (int c = 0; c < classCount; c++) {
            double exact = (double) count * byClass.get(c).size() / Math.max(1, indices.length);
            quota[c] = (int) Math.floor(exact);
            remainder[c] = exact - quota[c];
            given += quota[c];
        }
        Integer[] order = new Integer[classCount];
        for (int c = 0; c < classCount; c++) {
            order[c] = c;
        }
        Arrays.sort(order, (a, b) -> remainder[b] != remainder[a] ? Double.compare(remainder[b], remainder[a]) : a - b);
        for (int k = 0; given < count; k = (k + 1) % classCount) {
            int c = order[k];
            if (quota[c] < byClass.get(c).size()) {
                quota[c]++;
                given++;
            }
        }
        SplittableRandom rng = new SplittableRandom(seed);
        int[] picked = new int[count];
        int[] rest = new int[indices.length - count];
        int p = 0;
        int r = 0;
        for (int c = 0; c < classCount; c++) {
            int[] members = byClass.get(c).stream().mapToInt(Integer::intValue).toArray();
            shuffle(members, rng);
            for (int k = 0; k < members.length; k++) {
                if (k < quota[c]) {
                    picked[p++] = members[k];
                } else {
                    rest[r++] = members[k];
                }
            }
        }
        Arrays.sort(picked);
        Arrays.sort(rest);
        return new int[][] {picked, rest};
    }

    /** Fisher-Yates shuffle in place. */
    static void shuffle(int[] a, SplittableRandom rng) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }

    static int[] range(int n) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) {
            a[i] = i;
        }
        return a;
    }

    /** A seed for one purpose derived from the run's seed (SplitMix64 finaliser over the parts). */
    static long derive(long seed, long... parts) {
        long h = seed;
        for (long part : parts) {
            h = mix(h + 0x9E3779B97F4A7C15L * (part + 1));
        }
        return h;
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
