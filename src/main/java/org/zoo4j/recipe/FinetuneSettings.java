package org.zoo4j.recipe;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import org.zoo4j.base.ConfigException;

/**
 * The {@code finetune:} section of a training recipe: start from a trained model instead of fresh weights. The
 * recipe's {@code model} and {@code overrides} must describe the same architecture (the {@code finetune} command fills
 * them in from the model's card); {@code numClasses} and {@code input} may differ. See
 * {@link org.zoo4j.transfer.FineTuner} for what is copied, adapted and replaced.
 *
 * @param from              the trained model: a zoo4j model .zip, a run directory (its best.zip), or the name of a
 *                          trained model that ships with the zoo ({@code zoo4j weights list}, format zoo4j)
 * @param freezeUntil       name of a layer (as {@code ./zoo4j describe MODEL} lists them): it and every layer before
 *                          it in topological order keep their pretrained weights unchanged; null = train all layers
 * @param featureExtractor  freeze every layer except the new head (the same as freezeUntil = the layer before it)
 * @param headLearningRate  learning rate of the new head (the output layer); null = the updater's rate. The
 *                          learning-rate schedule scales it like the base rate
 * @param sha256            the SHA-256 of the {@code from} file that this run started from: a resumed or repeated run
 *                          refuses another file under that name. The {@code finetune} command records it; null = not
 *                          pinned (the file's card is still checked)
 * @param allowUnverified   start from a file that has no model card (its contents cannot be checked), at your word
 * @param refitNormalization fit a new normaliser on the new training data; by default the source model's normaliser
 *                          is kept, as its weights were trained on inputs normalised by it (and as published weights'
 *                          transforms are meant to be used)
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record FinetuneSettings(String from, String freezeUntil, boolean featureExtractor, Double headLearningRate,
                               String sha256, boolean allowUnverified, boolean refitNormalization) {

    public FinetuneSettings {
        if (from == null || from.isBlank()) {
            throw new ConfigException("finetune.from: the trained model file to start from is required");
        }
        if (freezeUntil != null && freezeUntil.isBlank()) {
            freezeUntil = null;
        }
        if (featureExtractor && freezeUntil != null) {
            throw new ConfigException("finetune: give either freezeUntil or featureExtractor, not both");
        }
        if (headLearningRate != null && !(headLearningRate >= 0 && Double.isFinite(headLearningRate))) {
            throw new ConfigException("finetune.headLearningRate: must be a finite number >= 0, got "
                    + headLearningRate);
        }
    }

    /** From {@code from}, its card checked and its SHA-256 not pinned. */
    public FinetuneSettings(String from, String freezeUntil, boolean featureExtractor, Double headLearningRate) {
        this(from, freezeUntil, featureExtractor, headLearningRate, null, false, false);
    }

    @JsonCreator
    static FinetuneSettings fromMap(@JsonProperty("from") String from, @JsonProperty("freezeUntil") String freezeUntil,
                                    @JsonProperty("featureExtractor") Boolean featureExtractor,
                                    @JsonProperty("headLearningRate") Double headLearningRate,
                                    @JsonProperty("sha256") String sha256,
                                    @JsonProperty("allowUnverified") Boolean allowUnverified,
                                    @JsonProperty("refitNormalization") Boolean refitNormalization) {
        return new FinetuneSettings(from, freezeUntil, featureExtractor != null && featureExtractor, headLearningRate,
                sha256, allowUnverified != null && allowUnverified, refitNormalization != null && refitNormalization);
    }

    /** This fine-tuning, its source pinned to {@code digest}. */
    public FinetuneSettings pinned(String digest) {
        return new FinetuneSettings(from, freezeUntil, featureExtractor, headLearningRate, digest, allowUnverified,
                refitNormalization);
    }
}
