package org.zoo4j.cli;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.zoo4j.Zoo;
import org.zoo4j.base.Configs;
import org.zoo4j.base.Table;
import org.zoo4j.zoo.ArchitectureCard;
import org.zoo4j.zoo.ArchitectureConfig;
import org.zoo4j.zoo.ModelRegistry;
import org.zoo4j.zoo.NetworkLayout;
import org.zoo4j.zoo.WeightsManifest;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code zoo4j describe NAME}: the network layer by layer, with the shape and parameter arithmetic. */
@Command(name = "describe", mixinStandardHelpOptions = true,
        description = {"Show a model layer by layer: output shape, parameters, multiply-accumulates, and the shape formula "
                + "(W - F + 2P)/S + 1 of every layer that changes the spatial size.",
                "Parameters of a convolution are K*F*F*D_in + K (K filters of F x F over D_in channels, plus biases)."})
final class DescribeCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "NAME", description = "A model name from 'zoo4j list'.")
    String name;

    @Option(names = "--input", paramLabel = "C,H,W", description = "Input shape instead of the model's default.")
    String input;

    @Option(names = "--classes", paramLabel = "N", description = "Number of classes instead of the model's default.")
    Integer classes;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Any other setting of the model, e.g. --set zeroInitLastBn=true.")
    Map<String, String> settings = new LinkedHashMap<>();

    @Option(names = "--config", description = "Also print the full configuration (YAML).")
    boolean printConfig;

    @Override
    public Integer call() {
        ModelRegistry.Entry<?> entry = Zoo.get(name);
        Map<String, Object> overrides = new LinkedHashMap<>(settings);
        if (input != null) {
            overrides.put("input", input);
        }
        if (classes != null) {
            overrides.put("numClasses", classes);
        }
        Object config = entry.config(overrides);
        NetworkLayout net = entry.define(overrides);
        System.out.println(name + " (" + entry.family().name() + "), input " + ((ArchitectureConfig) config).input()
                + ", " + ((ArchitectureConfig) config).numClasses() + " classes");
        if (printConfig) {
            System.out.println();
            System.out.print(Configs.toYaml(config));
        }
        System.out.println();
        Table table = new Table("layer", "type", "output", "params", "MACs", "shape arithmetic").right(3, 4);
        NetworkLayout.Shape in = net.shape(NetworkLayout.inputName());
        table.row(NetworkLayout.inputName(), "input", in, "", "", "");
        for (NetworkLayout.Layer l : net.layers()) {
            table.row(l.name(), l.type(), l.output(), l.trainable() == 0 ? "" : Table.count(l.trainable()),
                    l.macs() == 0 ? "" : Table.si(l.macs()), l.arithmetic());
        }
        table.print(System.out);
        System.out.println();
        System.out.println("trainable parameters: " + Table.count(net.trainableParams()));
        long stats = net.totalParams() - net.trainableParams();
        System.out.println("all parameters (DL4J): " + Table.count(net.totalParams())
                + (stats > 0 ? " (+" + Table.count(stats) + " batch-norm running means and variances)" : ""));
        System.out.println("multiply-accumulates per image: " + Table.count(net.macs()) + " (" + Table.si(net.macs()) + ")");
        if (entry.card() != null && overrides.isEmpty()) {
            long published = entry.card().trainableParams();
            System.out.println("reference trainable parameters: " + Table.count(published)
                    + (published == net.trainableParams() ? " (matches)" : " (DIFFERS)") + " - " + entry.card().paramsSource());
            for (ArchitectureCard.Accuracy a : entry.card().accuracies()) {
                System.out.printf(Locale.ROOT, "published %s %s: %.2f%% - %s%n", a.dataset(), a.metric(), a.value(),
                        a.source());
            }
        }
        printWeights(entry);
        return 0;
    }

    /** The model's weight sets, with the accuracy each was published with. */
    private static void printWeights(ModelRegistry.Entry<?> entry) {
        if (entry.weights().isEmpty()) {
            return;
        }
        WeightsManifest manifest = ModelRegistry.builtIn().weights();
        System.out.println();
        System.out.println("weight sets (Zoo.create(name, settings, weights); ./zoo4j weights pull NAME):");
        Table table = new Table("weights", "format", "dataset", "top-1", "top-5").right(3, 4);
        entry.weights().forEach((name, set) -> {
            WeightsManifest.Accuracy a = manifest.accuracyOf(name);
            table.row(name, set.format(), a == null ? "" : a.dataset(),
                    a == null ? "" : String.format(Locale.ROOT, "%.3f", a.top1()),
                    a == null ? "" : String.format(Locale.ROOT, "%.3f", a.top5()));
        });
        table.print(System.out);
    }
}
