package org.zoo4j.sweep;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import org.apache.commons.math3.special.Erf;
import org.deeplearning4j.arbiter.optimize.api.ParameterSpace;
import org.deeplearning4j.arbiter.optimize.parameter.discrete.DiscreteParameterSpace;

/**
 * Tree-structured Parzen estimator (Bergstra et al., 2011), the model-based sampler Arbiter never had. The finished
 * trials are split into the best {@code gamma} fraction and the rest; each part gets a density per coordinate of the
 * unit cube (truncated Gaussian kernels for continuous and integer parameters, smoothed frequencies for choices), and
 * the candidate drawn from the good density with the largest ratio good/bad is proposed. Coordinates are independent,
 * as in hyperopt's default. Log-uniform parameters are searched on the log scale, because the unit cube is.
 */
public final class TpeSampler implements Sampler {
    /** Fraction of the finished trials that count as good (hyperopt's default). */
    static final double GAMMA = 0.25;
    /** Candidates drawn from the good density per proposal (hyperopt's default). */
    static final int CANDIDATES = 24;

    private final long seed;
    private final int startupTrials;
    /** Per coordinate: the number of choices of a categorical one, or 0 for a continuous one. */
    private final int[] categories;

    public TpeSampler(SearchSpace space, long seed, int startupTrials) {
        this.seed = seed;
        this.startupTrials = Math.max(1, startupTrials);
        List<Integer> kinds = new ArrayList<>();
        for (ParameterSpace<?> leaf : space.leaves()) {
            for (int i = 0; i < leaf.numParameters(); i++) {
                kinds.add(leaf instanceof DiscreteParameterSpace<?> d ? d.numValues() : 0);
            }
        }
        this.categories = kinds.stream().mapToInt(Integer::intValue).toArray();
    }

    @Override
    public double[] next(int number, List<Observation> history) {
        SplittableRandom rng = new SplittableRandom(seed * 1_000_003L + number);
        int d = categories.length;
        List<Observation> finished = history.stream().filter(o -> Double.isFinite(o.loss()))
                .sorted(Comparator.comparingDouble(Observation::loss)).toList();
        if (finished.size() < startupTrials) {
            double[] p = new double[d];
            for (int i = 0; i < d; i++) {
                p[i] = rng.nextDouble();
            }
            return p;
        }
        int good = Math.max(1, (int) Math.ceil(GAMMA * finished.size()));
        List<Observation> below = finished.subList(0, good);
        List<Observation> above = finished.subList(good, finished.size());
        // The two densities of every coordinate, built once per proposal.
        double[][] goodChoices = new double[d][];
        double[][] badChoices = new double[d][];
        Parzen[] goodKernels = new Parzen[d];
        Parzen[] badKernels = new Parzen[d];
        for (int i = 0; i < d; i++) {
            if (categories[i] > 0) {
                goodChoices[i] = frequencies(column(below, i), categories[i]);
                badChoices[i] = frequencies(column(above, i), categories[i]);
            } else {
                goodKernels[i] = new Parzen(column(below, i));
                badKernels[i] = new Parzen(column(above, i));
            }
        }
        double[] best = null;
        double bestScore = Double.NEGATIVE_INFINITY;
        for (int c = 0; c < CANDIDATES; c++) {
            double[] x = new double[d];
            double score = 0;
            for (int i = 0; i < d; i++) {
                if (categories[i] > 0) {
                    int k = categories[i];
                    int choice = draw(goodChoices[i], rng);
                    x[i] = (choice + 0.5) / k; // the middle of the choice's cell, as Arbiter maps [0,1] to choices
                    score += Math.log(goodChoices[i][choice]) - Math.log(badChoices[i][choice]);
                } else {
                    x[i] = goodKernels[i].sample(rng);
                    score += Math.log(goodKernels[i].density(x[i])) - Math.log(badKernels[i].density(x[i]));
                }
            }
            if (score > bestScore) {
                bestScore = score;
                best = x;
            }
        }
        return best;
    }

    private static double[] column(List<Observation> obs, int i) {
        return obs.stream().mapToDouble(o -> o.point()[i]).toArray();
    }

    /** Category probabilities with one pseudo-count each (the uniform prior). */
    static double[] frequencies(double[] coords, int k) {
        double[] p = new double[k];
        Arrays.fill(p, 1);
        for (double x : coords) {
            p[Math.min(k - 1, (int) (x * k))]++;
        }
        double total = k + coords.length;
        for (int c = 0; c < k; c++) {
            p[c] /= total;
        }
        return p;
    }

    private static int draw(double[] p, SplittableRandom rng) {
        double u = rng.nextDouble();
        for (int c = 0; c < p.length - 1; c++) {
            u -= p[c];
            if (u < 0) {
                return c;
            }
        }
        return p.length - 1;
    }

    /**
     * A mixture of Gaussians truncated to [0, 1]: one per observation, plus a broad prior centred at 0.5 so no region
     * ever has zero density. Each kernel's width is the larger gap to its neighbours, at least 1/min(100, n+1).
     */
    static final class Parzen {
        final double[] mu;
        final double[] sigma;

        Parzen(double[] points) {
            int n = points.length;
            mu = new double[n + 1];
            sigma = new double[n + 1];
            double[] sorted = points.clone();
            Arrays.sort(sorted);
            double minSigma = 1.0 / Math.min(100, n + 1);
            for (int i = 0; i < n; i++) {
                double left = sorted[i] - (i == 0 ? 0 : sorted[i - 1]);
                double right = (i == n - 1 ? 1 : sorted[i + 1]) - sorted[i];
                mu[i] = sorted[i];
                sigma[i] = Math.min(1, Math.max(minSigma, Math.max(left, right)));
            }
            mu[n] = 0.5;
            sigma[n] = 1; // the prior
        }

        double sample(SplittableRandom rng) {
            int k = rng.nextInt(mu.length);
            while (true) {
                double x = mu[k] + sigma[k] * gaussian(rng);
                if (x >= 0 && x <= 1) {
                    return x;
                }
            }
        }

        double density(double x) {
            double sum = 0;
            for (int k = 0; k < mu.length; k++) {
                double z = (x - mu[k]) / sigma[k];
                double mass = phi((1 - mu[k]) / sigma[k]) - phi(-mu[k] / sigma[k]);
                sum += Math.exp(-0.5 * z * z) / (sigma[k] * Math.sqrt(2 * Math.PI) * mass);
            }
            return sum / mu.length;
        }

        private static double phi(double z) {
            return 0.5 * (1 + Erf.erf(z / Math.sqrt(2)));
        }

        private static double gaussian(SplittableRandom rng) {
            double u1 = 1 - rng.nextDouble();
            double u2 = rng.nextDouble();
            return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
        }
    }
}
