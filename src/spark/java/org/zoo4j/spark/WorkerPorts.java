package org.zoo4j.spark;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.DatagramSocket;
import org.apache.spark.SparkEnv;
import org.nd4j.parameterserver.distributed.v2.transport.PortSupplier;

/**
 * The UDP ports of gradient sharing: the configured port on the driver (the parameter server's controller), a free
 * port of its own on each executor JVM, chosen once. DL4J M2's own StaticPortSupplier drops the port it is given
 * (always 49876), and executors of one host that took the same port as the driver or each other would bind without
 * error, never join the mesh, and train nothing. Travels to the executors inside the VoidConfiguration.
 */
final class WorkerPorts implements PortSupplier {
    private static final long serialVersionUID = 1L;
    private static volatile int executorPort;

    private final int driverPort;

    WorkerPorts(int driverPort) {
        this.driverPort = driverPort;
    }

    @Override
    public int getPort() {
        SparkEnv env = SparkEnv.get();
        if (env == null || "driver".equals(env.executorId())) {
            return driverPort;
        }
        if (executorPort == 0) {
            synchronized (WorkerPorts.class) {
                if (executorPort == 0) {
                    try (DatagramSocket s = new DatagramSocket(0)) {
                        executorPort = s.getLocalPort();
                    } catch (IOException e) {
                        throw new UncheckedIOException("no free UDP port for gradient sharing: " + e.getMessage(), e);
                    }
                }
            }
        }
        return executorPort;
    }
}
