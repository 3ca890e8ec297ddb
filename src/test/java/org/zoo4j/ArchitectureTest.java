package org.zoo4j;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.Architectures.layeredArchitecture;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.library.Architectures.LayeredArchitecture;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The package graph as the README's "Layout" section draws it: each layer may use the layers below it and nothing
 * above; layers on one level do not use each other; no package cycles at all.
 */
class ArchitectureTest {
    /** Bottom to top; the packages of one inner list are side by side and independent of each other. */
    static final List<List<String>> LEVELS = List.of(
            List.of("base"),
            List.of("runtime"),
            List.of("zoo"),
            List.of("data"),
            List.of("recipe"),
            List.of("modelfile"),
            List.of("transfer"),
            List.of("training"),
            List.of("sweep", "bench", "visual"),
            // dashboard reads runs and sweeps, only the command line uses it (see below); spark trains and sweeps on Spark
            // (the -Pspark build's src/spark/java); side by side: neither uses the other
            List.of("dashboard", "spark"),
            List.of(""), // org.zoo4j itself: the front door (Zoo)
            List.of("cli"));

    /** Packages only some builds have (src/spark/java: -Pspark). */
    static final List<String> OPTIONAL = List.of("spark");

    private static JavaClasses classes;

    @BeforeAll
    static void importClasses() {
        classes = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("org.zoo4j");
    }

    static String layerName(String pkg) {
        return pkg.isEmpty() ? "front door" : pkg;
    }

    static String packageIdentifier(String pkg) {
        return pkg.isEmpty() ? "org.zoo4j" : "org.zoo4j." + pkg + "..";
    }

    /** Every layer may be used only by the levels above it. */
    static ArchRule layers() {
        LayeredArchitecture rule = layeredArchitecture().consideringOnlyDependenciesInLayers();
        for (List<String> level : LEVELS) {
            for (String pkg : level) {
                // spark exists only in the -Pspark build: an empty layer is no violation there
                rule = OPTIONAL.contains(pkg) ? rule.optionalLayer(layerName(pkg)).definedBy(packageIdentifier(pkg))
                        : rule.layer(layerName(pkg)).definedBy(packageIdentifier(pkg));
            }
        }
        for (int i = 0; i < LEVELS.size(); i++) {
            List<String> above = new ArrayList<>();
            for (List<String> level : LEVELS.subList(i + 1, LEVELS.size())) {
                level.forEach(p -> above.add(layerName(p)));
            }
            for (String pkg : LEVELS.get(i)) {
                rule = above.isEmpty() ? rule.whereLayer(layerName(pkg)).mayNotBeAccessedByAnyLayer()
                        : rule.whereLayer(layerName(pkg)).mayOnlyBeAccessedByLayers(above.toArray(String[]::new));
            }
        }
        return rule;
    }

    @Test
    void eachLayerUsesOnlyTheLayersBelowIt() {
        layers().check(classes);
    }

    /** The dashboard is a front end of the command line: nothing else, the front door included, depends on it. */
    @Test
    void onlyTheCommandLineUsesTheDashboard() {
        noClasses().that().resideOutsideOfPackages("org.zoo4j.dashboard..", "org.zoo4j.cli..").should()
                .dependOnClassesThat().resideInAPackage("org.zoo4j.dashboard..").check(classes);
    }

    @Test
    void packagesHaveNoCycles() {
        slices().matching("org.zoo4j.(*)..").should().beFreeOfCycles().check(classes);
    }

    @Test
    void everyPackageIsInALayer() {
        List<String> known = new ArrayList<>();
        LEVELS.forEach(known::addAll);
        classes.stream().map(c -> c.getPackageName()).distinct().forEach(p -> {
            String rest = p.equals("org.zoo4j") ? "" : p.substring("org.zoo4j.".length()).split("\\.")[0];
            if (!known.contains(rest)) {
                throw new AssertionError("package " + p + " is in no layer of ArchitectureTest.LEVELS; add it where it "
                        + "belongs, and to the README's Layout section");
            }
        });
    }
}
