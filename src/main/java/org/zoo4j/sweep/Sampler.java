package org.zoo4j.sweep;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.deeplearning4j.arbiter.optimize.api.Candidate;
import org.deeplearning4j.arbiter.optimize.api.CandidateGenerator;
import org.deeplearning4j.arbiter.optimize.api.OptimizationResult;
import org.deeplearning4j.arbiter.optimize.api.data.DataProvider;
import org.deeplearning4j.arbiter.optimize.api.data.DataSource;
import org.deeplearning4j.arbiter.optimize.api.score.ScoreFunction;
import org.deeplearning4j.arbiter.optimize.generator.GeneticSearchCandidateGenerator;
import org.deeplearning4j.arbiter.optimize.generator.GridSearchCandidateGenerator;
import org.deeplearning4j.arbiter.optimize.generator.RandomSearchGenerator;
import org.deeplearning4j.arbiter.optimize.generator.genetic.population.PopulationModel;

/**
 * Chooses the next trial's point of the unit cube from the trials so far. Every process of a sweep rebuilds its
 * sampler from the store, so a sampler keeps no state of its own between calls: trial {@code number}'s candidate
 * depends only on the seed, the number and the history.
 */
public interface Sampler {
    /**
     * A finished (or pruned) trial as samplers see it.
     *
     * @param point the trial's point of the unit cube
     * @param loss  the objective as a value to minimise (negated accuracy, or loss)
     */
    record Observation(double[] point, double loss) {
    }

    /** The point for trial {@code number}, or null when the strategy has no candidates left (a finished grid). */
    double[] next(int number, List<Observation> history);

    static Sampler of(SamplerSpec spec, SearchSpace space) {
        if (spec instanceof SamplerSpec.Grid g) {
            return grid(space, g.points());
        }
        if (spec instanceof SamplerSpec.Genetic g) {
            return genetic(space, g.seed(), g.population());
        }
        if (spec instanceof SamplerSpec.Tpe t) {
            return new TpeSampler(space, t.seed(), t.startupTrials());
        }
        return random(space, spec.seed());
    }

    /** Arbiter's random search, seeded per trial so that workers in other processes draw other candidates. */
    static Sampler random(SearchSpace space, long seed) {
        return (number, history) -> {
            CandidateGenerator g = new RandomSearchGenerator(space, null);
            g.setRngSeed(mix(seed, number));
            return g.getCandidate().getFlatParameters();
        };
    }

    /** Arbiter's grid search in sequential order: trial n is the grid's n-th point. */
    static Sampler grid(SearchSpace space, int pointsPerAxis) {
        return (number, history) -> {
            GridSearchCandidateGenerator g = new GridSearchCandidateGenerator(space, pointsPerAxis,
                    GridSearchCandidateGenerator.Mode.Sequential, null);
            if (number >= g.getTotalNumCandidates()) {
                return null;
            }
            Candidate<?> c = null;
            for (int i = 0; i <= number; i++) {
                c = g.getCandidate();
            }
            return c.getFlatParameters();
        };
    }

    /** Arbiter's genetic search: the population is rebuilt from the finished trials, then bred. */
    static Sampler genetic(SearchSpace space, long seed, int population) {
        return (number, history) -> {
            PopulationModel model = new PopulationModel.Builder().populationSize(population).build();
            GeneticSearchCandidateGenerator g = new GeneticSearchCandidateGenerator.Builder(space, MINIMIZE)
                    .populationModel(model).build();
            g.setRngSeed(mix(seed, number));
            for (Observation o : history) {
                g.reportResults(new OptimizationResult(new Candidate<>(null, 0, o.point()), o.loss(), 0, null, null,
                        null));
            }
            if (!g.hasMoreCandidates()) {
                return null;
            }
            return g.getCandidate().getFlatParameters();
        };
    }

    private static long mix(long seed, int number) {
        long z = seed * 0x9E3779B97F4A7C15L + number;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** Observations are losses; Arbiter's genetic search only asks which way is better. */
    ScoreFunction MINIMIZE = new ScoreFunction() {
        @Override
        public double score(Object model, DataProvider data, Map<String, Object> params) {
            throw new UnsupportedOperationException("zoo4j scores trials itself");
        }

        @Override
        public double score(Object model, Class<? extends DataSource> data, Properties props) {
            throw new UnsupportedOperationException("zoo4j scores trials itself");
        }

        @Override
        public boolean minimize() {
            return true;
        }

        @Override
        public List<Class<?>> getSupportedModelTypes() {
            return new ArrayList<>();
        }

        @Override
        public List<Class<?>> getSupportedDataTypes() {
            return new ArrayList<>();
        }
    };
}
