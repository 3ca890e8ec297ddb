package org.zoo4j.cli;

import org.zoo4j.modelfile.ModelFile;
import picocli.CommandLine.Option;

/** How far a command trusts the model file it reads (see {@link ModelFile.Trust}). */
final class TrustOptions {
    @Option(names = "--sha256", paramLabel = "HEX", description = "the SHA-256 of the model file as its publisher gives "
            + "it (sha256sum): any other file is refused")
    String sha256;

    @Option(names = "--allow-unverified", description = "read a model file that has no model card, whose contents "
            + "therefore cannot be checked: only for a file you trust")
    boolean allowUnverified;

    ModelFile.Trust trust() {
        return new ModelFile.Trust(allowUnverified, sha256);
    }
}
