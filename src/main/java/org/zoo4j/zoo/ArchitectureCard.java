package org.zoo4j.zoo;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;
import org.zoo4j.base.InputShape;

/**
 * What the catalogue says about a registered model: {@code zoo/NAME.yaml}, read from the classpath.
 *
 * @param name             the registry name
 * @param family           the family, e.g. "resnet"
 * @param variant          the variant within the family, e.g. "ResNet-50"
 * @param paper            the paper that introduced it
 * @param input            the default input shape
 * @param classes          the default number of classes
 * @param trainableParams  published trainable parameter count at the default input and classes
 * @param paramsSource     where that count is published
 * @param weights          the weight sets of {@code zoo/weights.yaml} for this model, which carry their published
 *                         accuracies (figures are written there, once)
 * @param accuracies       published accuracies of the architecture that no weight set carries (a paper's), each with
 *                         its source
 * @param notes            what differs from the reference, if anything
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ArchitectureCard(String name, String family, String variant, Paper paper, InputShape input, int classes,
                               long trainableParams, String paramsSource, List<String> weights,
                               List<Accuracy> accuracies, String notes) {

    public ArchitectureCard {
        weights = weights == null ? List.of() : List.copyOf(weights);
        accuracies = accuracies == null ? List.of() : List.copyOf(accuracies);
    }

    /** A paper: title, authors, year, link. */
    public record Paper(String title, String authors, int year, String url) {
    }

    /**
     * A published result.
     *
     * @param dataset e.g. "ImageNet-1k val"
     * @param metric  e.g. "top-1"
     * @param value   in percent
     * @param source  who published it
     */
    public record Accuracy(String dataset, String metric, double value, String source) {
    }
}
