package org.zoo4j.recipe;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;
import org.zoo4j.base.Choices;
import org.zoo4j.base.ConfigException;

/**
 * How the learning rate changes over epochs, as a factor of the updater's base rate. The rate is set at the start of
 * each epoch, so it depends only on the epoch number and a resumed run continues on the same curve.
 *
 * @param type         the shape of the curve (default constant)
 * @param gamma        factor applied at each step (step, multistep; default 0.1)
 * @param stepEpochs   epochs between steps for {@code step} (default 30)
 * @param milestones   epochs (from 0) at which {@code multistep} multiplies the rate by gamma, e.g. [100, 150]
 * @param warmupEpochs epochs of linear warm-up before the schedule: epoch e &lt; w runs at (e+1)/(w+1) of the base rate
 *                     (default 0)
 * @param minFactor    the factor cosine decays to at the last epoch (default 0)
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record LrSchedule(Type type, double gamma, int stepEpochs, List<Integer> milestones, int warmupEpochs,
                         double minFactor) {
    public static final LrSchedule CONSTANT = new LrSchedule(Type.CONSTANT, 0.1, 30, List.of(), 0, 0);

    /** The shapes of schedule. */
    public enum Type {
        /** The base rate throughout. */
        CONSTANT,
        /** Multiplied by gamma every stepEpochs epochs. */
        STEP,
        /** Multiplied by gamma at each milestone. */
        MULTISTEP,
        /** Half a cosine from 1 down to minFactor at the last epoch. */
        COSINE;

        @Override
        public String toString() {
            return Choices.name(this);
        }
    }

    public LrSchedule {
        type = type == null ? Type.CONSTANT : type;
        if (!(gamma > 0)) {
            throw new ConfigException("schedule.gamma: must be > 0, got " + gamma);
        }
        if (stepEpochs < 1) {
            throw new ConfigException("schedule.stepEpochs: must be at least 1, got " + stepEpochs);
        }
        milestones = milestones == null ? List.of() : List.copyOf(milestones);
        if (warmupEpochs < 0) {
            throw new ConfigException("schedule.warmupEpochs: must be >= 0, got " + warmupEpochs);
        }
        if (minFactor < 0 || minFactor > 1) {
            throw new ConfigException("schedule.minFactor: must be in [0, 1], got " + minFactor);
        }
    }

    /** The YAML/JSON form: every field may be left out. */
    @JsonCreator
    static LrSchedule fromMap(@JsonProperty("type") Type type, @JsonProperty("gamma") Double gamma,
                              @JsonProperty("stepEpochs") Integer stepEpochs,
                              @JsonProperty("milestones") List<Integer> milestones,
                              @JsonProperty("warmupEpochs") Integer warmupEpochs,
                              @JsonProperty("minFactor") Double minFactor) {
        return new LrSchedule(type, gamma == null ? 0.1 : gamma, stepEpochs == null ? 30 : stepEpochs, milestones,
                warmupEpochs == null ? 0 : warmupEpochs, minFactor == null ? 0 : minFactor);
    }

    /** Whether the rate never changes: a constant schedule without warm-up. */
    @JsonIgnore
    public boolean isConstant() {
        return type == Type.CONSTANT && warmupEpochs == 0;
    }

    /** The multiplier of the base learning rate during {@code epoch} (from 0) of a run of {@code epochs}. */
    public double factor(int epoch, int epochs) {
        if (epoch < warmupEpochs) {
            return (epoch + 1.0) / (warmupEpochs + 1);
        }
        int e = epoch - warmupEpochs;
        return switch (type) {
            case STEP -> Math.pow(gamma, e / stepEpochs);
            case MULTISTEP -> Math.pow(gamma, milestones.stream().filter(m -> epoch >= m).count());
            case COSINE -> {
                int span = Math.max(1, epochs - warmupEpochs - 1);
                double t = Math.min(1.0, (double) e / span);
                yield minFactor + (1 - minFactor) * 0.5 * (1 + Math.cos(Math.PI * t));
            }
            case CONSTANT -> 1.0;
        };
    }
}
