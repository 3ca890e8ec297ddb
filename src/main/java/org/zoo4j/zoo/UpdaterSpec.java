package org.zoo4j.zoo;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.Locale;
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

/**
 * An optimiser by name and its settings, as written in configs: {@code {name: nesterov, learningRate: 0.1,
 * momentum: 0.9}}. The learning rate schedule, when there is one, is applied by the trainer on top.
 *
 * @param name         sgd, momentum, nesterov, adam, nadam, amsgrad, adamax, rmsprop, adagrad, adadelta, none
 * @param learningRate the base learning rate (ignored by adadelta and none)
 * @param momentum     momentum for "momentum"/"nesterov" (default 0.9); not used by the others
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record UpdaterSpec(String name, double learningRate, Double momentum) {

    public UpdaterSpec {
        name = name == null ? "adam" : name.toLowerCase(Locale.ROOT);
        if (!java.util.List.of("sgd", "momentum", "nesterov", "adam", "nadam", "amsgrad", "adamax", "rmsprop",
                "adagrad", "adadelta", "none").contains(name)) {
            throw new IllegalArgumentException("updater.name: unknown updater '" + name
                    + "'; one of sgd, momentum, nesterov, adam, nadam, amsgrad, adamax, rmsprop, adagrad, adadelta, none");
        }
        if (!(learningRate > 0) && !name.equals("adadelta") && !name.equals("none")) {
            throw new IllegalArgumentException("updater.learningRate: must be > 0, got " + learningRate);
        }
        if (momentum != null && (momentum < 0 || momentum >= 1)) {
            throw new IllegalArgumentException("updater.momentum: must be in [0, 1), got " + momentum);
        }
    }

    public static UpdaterSpec adam(double learningRate) {
        return new UpdaterSpec("adam", learningRate, null);
    }

    public static UpdaterSpec nesterov(double learningRate, double momentum) {
        return new UpdaterSpec("nesterov", learningRate, momentum);
    }

    /** The DL4J updater with a constant learning rate. */
    public IUpdater toUpdater() {
        return toUpdater(null);
    }

    /** The DL4J updater; {@code schedule}, when not null, replaces the constant learning rate. */
    public IUpdater toUpdater(ISchedule schedule) {
        double m = momentum == null ? 0.9 : momentum;
        boolean constant = schedule == null;
        return switch (name) {
            case "sgd" -> constant ? new Sgd(learningRate) : new Sgd(schedule);
            // DL4J has one momentum updater, Nesterov's; "momentum" names it too.
            case "momentum", "nesterov" -> constant ? new Nesterovs(learningRate, m) : new Nesterovs(schedule, m);
            case "adam" -> constant ? new Adam(learningRate) : new Adam(schedule);
            case "nadam" -> constant ? new Nadam(learningRate) : new Nadam(schedule);
            case "amsgrad" -> constant ? new AMSGrad(learningRate) : new AMSGrad(schedule);
            case "adamax" -> constant ? new AdaMax(learningRate) : new AdaMax(schedule);
            case "rmsprop" -> constant ? new RmsProp(learningRate) : new RmsProp(schedule);
            case "adagrad" -> constant ? new AdaGrad(learningRate) : new AdaGrad(schedule);
            case "adadelta" -> new AdaDelta();
            case "none" -> new NoOp();
            default -> throw new IllegalStateException(name);
        };
    }
}
