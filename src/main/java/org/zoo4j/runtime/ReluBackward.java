package org.zoo4j.runtime;

import java.util.Map;
import org.bytedeco.dnnl.IntMemoryMap;
import org.bytedeco.dnnl.eltwise_backward;
import org.bytedeco.dnnl.eltwise_forward;
import org.bytedeco.dnnl.global.dnnl;
import org.bytedeco.dnnl.memory;
import org.bytedeco.dnnl.stream;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.scalar.Step;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.MulOp;
import org.nd4j.linalg.api.shape.Shape;

/**
 * The gradient through a plain ReLU, dL/dx = dL/dy where the ReLU's input (or, equally, its output) is positive, else
 * 0, in one pass: oneDNN's element-wise backward primitive, made once per shape and kept. ND4J's step and multiply
 * (two passes, what zoo4j did before) where the arrays are not plain float arrays of default strides or the dnnl natives
 * did not load. One instance per layer or vertex; not thread-safe.
 */
final class ReluBackward {
    private final Map<Key, Plan> plans = OneDnn.plans();
    private final OneDnn.Address address = new OneDnn.Address();
    private long onednnCalls;
    private long nd4jCalls;

    /** Calls served by oneDNN, and by ND4J's two passes. */
    long onednnCalls() {
        return onednnCalls;
    }

    long nd4jCalls() {
        return nd4jCalls;
    }

    /**
     * Writes dL/dx into {@code gradientIn}: {@code gradientOut} (dL/dy) where {@code data} is positive, else 0.
     * {@code data} is the ReLU's input or its output ({@code dataIsOutput}); the two give the same mask.
     */
    void apply(INDArray data, boolean dataIsOutput, INDArray gradientOut, INDArray gradientIn) {
        if (plain(data) && plain(gradientOut) && plain(gradientIn) && data.equalShapes(gradientOut)
                && data.equalShapes(gradientIn) && OneDnn.available()) {
            Plan plan = plans.computeIfAbsent(new Key(data.shape(), dataIsOutput), Plan::create);
            if (plan.usable()) {
                plan.execute(data, gradientOut, gradientIn, address);
                onednnCalls++;
                return;
            }
        }
        nd4jCalls++;
        org.nd4j.linalg.factory.Nd4j.exec(new Step(data, gradientIn, 0.0)); // 1 where positive, else 0
        org.nd4j.linalg.factory.Nd4j.exec(new MulOp(gradientOut, gradientIn, gradientIn));
    }

    private static boolean plain(INDArray x) {
        return x.dataType() == DataType.FLOAT && x.ordering() == 'c' && Shape.hasDefaultStridesForShape(x)
                && !x.isEmpty();
    }

    private record Key(long[] shape, boolean fromOutput) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Key k && k.fromOutput == fromOutput && java.util.Arrays.equals(k.shape, shape);
        }

        @Override
        public int hashCode() {
            return 31 * java.util.Arrays.hashCode(shape) + (fromOutput ? 1 : 0);
        }
    }

    /** The primitive for one shape; the three buffers bound per call. */
    private static final class Plan {
        private final eltwise_backward primitive;
        private final memory data;
        private final memory diffDst;
        private final memory diffSrc;
        private final IntMemoryMap args = new IntMemoryMap();

        private Plan(eltwise_backward primitive, memory.desc desc, boolean fromOutput) {
            this.primitive = primitive;
            if (primitive == null) {
                data = diffDst = diffSrc = null;
                return;
            }
            data = OneDnn.unbound(desc);
            diffDst = OneDnn.unbound(desc);
            diffSrc = OneDnn.unbound(desc);
            args.put(fromOutput ? dnnl.DNNL_ARG_DST : dnnl.DNNL_ARG_SRC, data);
            args.put(dnnl.DNNL_ARG_DIFF_DST, diffDst);
            args.put(dnnl.DNNL_ARG_DIFF_SRC, diffSrc);
        }

        static Plan create(Key key) {
            // the shape flattened: an element-wise primitive does not care about dimensions, and any rank is taken
            long elements = 1;
            for (long d : key.shape()) {
                elements *= d;
            }
            memory.desc desc = new memory.desc(new long[] {elements}, memory.data_type.f32, memory.format_tag.x);
            try {
                dnnl.algorithm alg = key.fromOutput() ? dnnl.algorithm.eltwise_relu_use_dst_for_bwd
                        : dnnl.algorithm.eltwise_relu;
                var forward = new eltwise_forward.primitive_desc(new eltwise_forward.desc(
                        dnnl.prop_kind.forward_training, alg, desc, 0.0f, 0.0f), OneDnn.engine());
                var backward = new eltwise_backward.primitive_desc(new eltwise_backward.desc(alg, desc, desc, 0.0f,
                        0.0f), OneDnn.engine(), forward);
                return new Plan(new eltwise_backward(backward), desc, key.fromOutput());
            } catch (RuntimeException e) {
                return new Plan(null, desc, key.fromOutput());
            }
        }

        boolean usable() {
            return primitive != null;
        }

        void execute(INDArray x, INDArray dy, INDArray dx, OneDnn.Address address) {
            stream s = OneDnn.stream();
            data.set_data_handle(address.at(OneDnn.address(x)));
            diffDst.set_data_handle(address.at(OneDnn.address(dy)));
            diffSrc.set_data_handle(address.at(OneDnn.address(dx)));
            primitive.execute(s, args);
            s._wait();
        }
    }
}
