package org.zoo4j.cli;

import java.util.Map;
import java.util.concurrent.Callable;
import org.zoo4j.Zoo;
import org.zoo4j.base.Table;
import org.zoo4j.zoo.ModelRegistry;
import org.zoo4j.zoo.NetworkLayout;
import picocli.CommandLine.Command;

/** {@code zoo4j list}: every registered model with its default input, trainable parameters and MACs. */
@Command(name = "list", mixinStandardHelpOptions = true,
        description = "List the registered models: family, default input, trainable parameters, multiply-accumulates per image.")
final class ListCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        Table table = new Table("name", "family", "input", "classes", "trainable params", "MACs/image", "reference params")
                .right(3, 4, 5, 6);
        for (ModelRegistry.Entry<?> e : Zoo.list()) {
            NetworkLayout net = e.define(Map.of());
            table.row(e.name(), e.family().name(), e.preset().input(), e.preset().numClasses(),
                    Table.count(net.trainableParams()), Table.si(net.macs()),
                    e.card() == null ? "" : Table.count(e.card().trainableParams()));
        }
        table.print(System.out);
        return 0;
    }
}
