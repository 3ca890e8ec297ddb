package org.zoo4j.sweep;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Decides after each epoch whether a trial goes on. Values are the objective as a loss (lower is better), keyed by
 * trial number and then epoch; they include the trial being judged.
 */
public interface Pruner {
    /** A reason to stop {@code trial} after {@code epoch}, or null to let it go on. */
    String check(int trial, int epoch, Map<Integer, Map<Integer, Double>> values);

    Pruner NONE = (trial, epoch, values) -> null;

    static Pruner of(PrunerSpec spec) {
        if (spec instanceof PrunerSpec.Asha a) {
            return new Asha(a.minEpochs(), a.reductionFactor());
        }
        if (spec instanceof PrunerSpec.Median m) {
            return new Median(m.minEpochs(), m.startupTrials());
        }
        return NONE;
    }

    /** The values that {@code epoch} saw, over all trials that reached it. */
    private static List<Double> at(int epoch, Map<Integer, Map<Integer, Double>> values) {
        List<Double> v = new ArrayList<>();
        values.values().forEach(byEpoch -> {
            Double x = byEpoch.get(epoch);
            if (x != null && Double.isFinite(x)) {
                v.add(x);
            }
        });
        return v;
    }

    /**
     * Asynchronous successive halving (Li et al., 2020): rungs at minEpochs * factor^k epochs; a trial that reaches a
     * rung goes on only while it is among the best 1/factor of all trials that reached that rung so far (the first
     * ones always go on, so the search never stalls waiting for a full rung).
     */
    record Asha(int minEpochs, int reductionFactor) implements Pruner {
        boolean isRung(int epoch) {
            for (long r = minEpochs; r <= epoch; r *= reductionFactor) {
                if (r == epoch) {
                    return true;
                }
            }
            return false;
        }

        @Override
        public String check(int trial, int epoch, Map<Integer, Map<Integer, Double>> values) {
            Double mine = values.getOrDefault(trial, Map.of()).get(epoch);
            if (!isRung(epoch) || mine == null) {
                return null;
            }
            List<Double> rung = at(epoch, values);
            Collections.sort(rung);
            int keep = Math.max(1, rung.size() / reductionFactor);
            double threshold = rung.get(keep - 1);
            if (mine <= threshold) {
                return null;
            }
            return String.format(Locale.ROOT, "ASHA rung at epoch %d: not in the best %d of %d trials there", epoch,
                    keep, rung.size());
        }
    }

    /**
     * The median rule (Golovin et al., 2017, as in Optuna's MedianPruner): after {@code warmupEpochs}, stop a trial
     * whose value is worse than the median of the other trials' values at the same epoch, once at least
     * {@code startupTrials} others have reported it.
     */
    record Median(int warmupEpochs, int startupTrials) implements Pruner {
        @Override
        public String check(int trial, int epoch, Map<Integer, Map<Integer, Double>> values) {
            Double mine = values.getOrDefault(trial, Map.of()).get(epoch);
            if (epoch < warmupEpochs || mine == null) {
                return null;
            }
            List<Double> others = new ArrayList<>();
            values.forEach((t, byEpoch) -> {
                Double x = byEpoch.get(epoch);
                if (t != trial && x != null && Double.isFinite(x)) {
                    others.add(x);
                }
            });
            if (others.size() < startupTrials) {
                return null;
            }
            Collections.sort(others);
            int n = others.size();
            double median = n % 2 == 1 ? others.get(n / 2) : (others.get(n / 2 - 1) + others.get(n / 2)) / 2;
            return mine > median ? String.format(Locale.ROOT, "median rule at epoch %d: worse than the median of %d "
                    + "other trials", epoch, n) : null;
        }
    }
}
