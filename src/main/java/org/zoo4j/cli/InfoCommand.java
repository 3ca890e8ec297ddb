package org.zoo4j.cli;

import com.sun.management.HotSpotDiagnosticMXBean;
import com.sun.management.VMOption;
import java.lang.management.ManagementFactory;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import org.nd4j.linalg.factory.Nd4j;
import org.zoo4j.base.Table;
import org.zoo4j.runtime.Backend;
import org.zoo4j.runtime.BackendInfo;
import org.zoo4j.runtime.GpuInfo;
import org.zoo4j.runtime.InferenceCopy;
import org.zoo4j.runtime.LayerHelpers;
import picocli.CommandLine.Command;

/** {@code zoo4j info}: what the backend is and what it may use. */
@Command(name = "info", mixinStandardHelpOptions = true,
        description = "Show the backend (CPU/CUDA), the GPUs with their memory, driver and cuDNN, BLAS/oneDNN, threads and "
                + "memory limits.")
final class InfoCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        BackendInfo info = Backend.init();
        Table table = new Table("setting", "value");
        table.row("backend", info.backend());
        table.row("native build", info.nativeBuild().isEmpty() ? "(default)" : info.nativeBuild().substring(1));
        table.row("devices", Nd4j.getAffinityManager().getNumberOfDevices());
        GpuInfo gpu = info.gpu();
        if (gpu.devices().isEmpty()) {
            table.row("GPU", gpu.cuda() ? "none visible to the CUDA backend" : "no GPU (CPU backend)");
        }
        for (GpuInfo.Device d : gpu.devices()) {
            table.row("GPU " + d.index(), d.name() + ", compute capability " + d.computeCapability());
            table.row("GPU " + d.index() + " memory", Table.si(d.totalBytes()) + "B total, "
                    + Table.si(d.freeBytes()) + "B free");
        }
        table.row("NVIDIA driver", gpu.driver() == null ? "none" : gpu.driver()
                + (gpu.cuda() ? "" : " (not used: CPU build; -Pcuda for the GPU)"));
        table.row("cuDNN", gpu.cudnn());
        if (!gpu.note().isEmpty()) {
            table.row("note", gpu.note());
        }
        table.row("BLAS", info.blasVendor());
        table.row("oneDNN", info.oneDnn() ? "on" : "off");
        table.row("layer helpers", info.helpersEnabled() ? "enabled" : "disabled");
        table.row("convolution", LayerHelpers.convolutionPath());
        table.row("batch norm", LayerHelpers.batchNormPath());
        table.row("inference", InferenceCopy.describe());
        table.row("native malloc", Backend.mallocSettings());
        table.row("BLAS threads", Backend.blasThreadSettings());
        table.row("cores", info.cores());
        table.row("ND4J threads", info.threads());
        table.row("max heap", Table.si(info.maxHeap()) + "B");
        table.row("garbage collector", collector());
        table.row("max off-heap", Table.si(info.maxOffHeap()) + "B");
        table.print(System.out);
        return 0;
    }

    /** The JVM's collectors by name and, where it was given (-Xmn), the young generation's size. */
    private static String collector() {
        String names = ManagementFactory.getGarbageCollectorMXBeans().stream().map(b -> b.getName())
                .collect(Collectors.joining(", "));
        HotSpotDiagnosticMXBean hotSpot = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
        if (hotSpot == null) {
            return names;
        }
        VMOption young = hotSpot.getVMOption("MaxNewSize");
        if (young.getOrigin() == VMOption.Origin.DEFAULT || young.getOrigin() == VMOption.Origin.ERGONOMIC) {
            return names;
        }
        return names + "; young generation " + Long.parseLong(young.getValue()) / (1 << 20) + " MiB";
    }
}
