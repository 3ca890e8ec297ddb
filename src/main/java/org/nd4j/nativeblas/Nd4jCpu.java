package org.nd4j.nativeblas;

import java.lang.reflect.Method;

/**
 * Compatibility shim so that DL4J 1.0.0-M2.1 attaches its oneDNN layer helpers.
 *
 * <p>{@code org.deeplearning4j.nn.layers.mkldnn.BaseMKLDNNHelper#mklDnnEnabled()} looks up
 * {@code org.nd4j.nativeblas.Nd4jCpu$Environment#isUseMKLDNN()} by reflection, but nd4j-native M2.1 ships that class as
 * {@code org.nd4j.linalg.cpu.nativecpu.bindings.Nd4jCpu$Environment} with {@code isUseONEDNN()}. The lookup fails
 * quietly and every convolution, pooling, batch-norm and LRN layer falls back to DL4J's slow built-in code. This class
 * answers the old lookup from the new one. It is reached by reflection only, and only on the CPU backend.
 */
public final class Nd4jCpu {
    private Nd4jCpu() {
    }

    /** The environment as DL4J's helper check expects to find it. */
    public static final class Environment {
        private static final String NATIVE_ENVIRONMENT = "org.nd4j.linalg.cpu.nativecpu.bindings.Nd4jCpu$Environment";
        private static final Environment INSTANCE = new Environment();

        private Environment() {
        }

        public static Environment getInstance() {
            return INSTANCE;
        }

        /** Whether libnd4j was built with oneDNN and has it switched on. False where nd4j-native is absent. */
        public boolean isUseMKLDNN() {
            try {
                Class<?> env = Class.forName(NATIVE_ENVIRONMENT);
                Object instance = env.getMethod("getInstance").invoke(null);
                Method useOneDnn = env.getMethod("isUseONEDNN");
                return (Boolean) useOneDnn.invoke(instance);
            } catch (ReflectiveOperationException | LinkageError e) {
                return false;
            }
        }
    }
}
