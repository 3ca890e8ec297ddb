package org.zoo4j.zoo;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.function.DoubleFunction;
import java.util.function.Function;
import org.nd4j.linalg.learning.config.AMSGrad;
import org.nd4j.linalg.learning.config.AdaDelta;
import org.nd4j.linalg.learning.config.AdaGrad;
import org.nd4j.linalg.learning.config.AdaMax;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.config.Nadam;
import org.nd4j.linalg.learning.config.Nesterovs;
import org.nd4j.linalg.learning.config.NoOp;
import org.nd4j.linalg.learning.config.RmsProp;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.schedule.ISchedule;
import org.zoo4j.base.Choices;
import org.zoo4j.base.ConfigException;

/**
 * An optimiser and its settings, as written in configs: {@code {name: nesterov, learningRate: 0.1, momentum: 0.9}}.
 * The learning rate schedule, when there is one, is applied by the trainer on top.
 *
 * @param name         the optimiser (default adam)
 * @param learningRate the base learning rate (ignored by adadelta and none)
 * @param momentum     momentum for "momentum"/"nesterov" (default 0.9); not used by the others
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record UpdaterSpec(Optimizer name, double learningRate, Double momentum) {
    /** Momentum where the config gives none. */
    public static final double DEFAULT_MOMENTUM = 0.9;

    /** The optimisers, by the name configs give them, each with its DL4J updater. */
    public enum Optimizer {
        SGD(Sgd::new, Sgd::new),
        /** DL4J has one momentum updater, Nesterov's; "momentum" names it too. */
        MOMENTUM(null, null),
        NESTEROV(null, null),
        ADAM(Adam::new, Adam::new),
        NADAM(Nadam::new, Nadam::new),
        AMSGRAD(AMSGrad::new, AMSGrad::new),
        ADAMAX(AdaMax::new, AdaMax::new),
        RMSPROP(RmsProp::new, RmsProp::new),
        ADAGRAD(AdaGrad::new, AdaGrad::new),
        /** Sets its own step sizes: no learning rate. */
        ADADELTA(lr -> new AdaDelta(), s -> new AdaDelta()),
        /** No updates at all. */
        NONE(lr -> new NoOp(), s -> new NoOp());

        private final DoubleFunction<IUpdater> constant;
        private final Function<ISchedule, IUpdater> scheduled;

        Optimizer(DoubleFunction<IUpdater> constant, Function<ISchedule, IUpdater> scheduled) {
            this.constant = constant;
            this.scheduled = scheduled;
        }

        /** Whether the optimiser takes a learning rate. */
        public boolean hasLearningRate() {
            return this != ADADELTA && this != NONE;
        }

        @Override
        public String toString() {
            return Choices.name(this);
        }
    }

    public UpdaterSpec {
        name = name == null ? Optimizer.ADAM : name;
        if (!(learningRate > 0) && name.hasLearningRate()) {
            throw new ConfigException("updater.learningRate: must be > 0, got " + learningRate);
        }
        if (momentum != null && (momentum < 0 || momentum >= 1)) {
            throw new ConfigException("updater.momentum: must be in [0, 1), got " + momentum);
        }
    }

    public static UpdaterSpec adam(double learningRate) {
        return new UpdaterSpec(Optimizer.ADAM, learningRate, null);
    }

    public static UpdaterSpec nesterov(double learningRate, double momentum) {
        return new UpdaterSpec(Optimizer.NESTEROV, learningRate, momentum);
    }

    /** The DL4J updater with a constant learning rate. */
    public IUpdater toUpdater() {
        return toUpdater(null);
    }

    /** The DL4J updater; {@code schedule}, when not null, replaces the constant learning rate. */
    public IUpdater toUpdater(ISchedule schedule) {
        double m = momentum == null ? DEFAULT_MOMENTUM : momentum;
        if (name == Optimizer.MOMENTUM || name == Optimizer.NESTEROV) {
            return schedule == null ? new Nesterovs(learningRate, m) : new Nesterovs(schedule, m);
        }
        return schedule == null ? name.constant.apply(learningRate) : name.scheduled.apply(schedule);
    }
}
