package org.zoo4j.runtime;

import java.util.Arrays;
import java.util.Map;
import org.bytedeco.dnnl.IntMemoryMap;
import org.bytedeco.dnnl.binary;
import org.bytedeco.dnnl.global.dnnl;
import org.bytedeco.dnnl.memory;
import org.bytedeco.dnnl.post_ops;
import org.bytedeco.dnnl.primitive_attr;
import org.bytedeco.dnnl.stream;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.MaskState;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.inputs.InvalidInputTypeException;
import org.deeplearning4j.nn.conf.memory.LayerMemoryReport;
import org.deeplearning4j.nn.conf.memory.MemoryReport;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.vertex.BaseGraphVertex;
import org.deeplearning4j.nn.graph.vertex.GraphVertex;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.scalar.RectifiedLinear;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.AddOp;
import org.nd4j.linalg.api.shape.Shape;
import org.nd4j.linalg.factory.Nd4j;

/**
 * max(0, a + b) of two arrays of one shape, for an inference copy ({@link InferenceCopy}): a residual block's sum and
 * the ReLU after it in one vertex. DL4J's element-wise addition copies its first input and adds the second in place
 * (two passes), and its activation layer is a third; here plain 4D float arrays take one oneDNN binary primitive with
 * the ReLU as a post-op (one pass: both inputs read, the output written), made once per shape; anything else takes
 * ND4J's addition and ReLU (two passes). Inference only: it has no backward pass.
 */
public final class AddReluVertex extends org.deeplearning4j.nn.conf.graph.GraphVertex {
    @Override
    public AddReluVertex clone() {
        return new AddReluVertex();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof AddReluVertex;
    }

    @Override
    public int hashCode() {
        return AddReluVertex.class.hashCode();
    }

    @Override
    public long numParams(boolean backprop) {
        return 0;
    }

    @Override
    public int minVertexInputs() {
        return 2;
    }

    @Override
    public int maxVertexInputs() {
        return 2;
    }

    @Override
    public GraphVertex instantiate(ComputationGraph graph, String name, int idx, INDArray paramsView,
                                   boolean initializeParams, DataType networkDatatype) {
        return new Impl(graph, name, idx, networkDatatype);
    }

    @Override
    public InputType getOutputType(int layerIndex, InputType... vertexInputs) throws InvalidInputTypeException {
        if (vertexInputs.length != 2 || !vertexInputs[0].equals(vertexInputs[1])) {
            throw new InvalidInputTypeException("AddReluVertex adds two inputs of one type; got "
                    + Arrays.toString(vertexInputs));
        }
        return vertexInputs[0];
    }

    @Override
    public MemoryReport getMemoryReport(InputType... inputTypes) {
        return new LayerMemoryReport.Builder(null, AddReluVertex.class, inputTypes[0], inputTypes[0])
                .standardMemory(0, 0).workingMemory(0, 0, 0, 0).cacheMemory(0, 0).build();
    }

    @Override
    public String toString() {
        return "AddReluVertex()";
    }

    /** The vertex in a graph. */
    static final class Impl extends BaseGraphVertex {
        private final Map<Shape4, Plan> plans = OneDnn.plans();
        private final OneDnn.Address address = new OneDnn.Address();
        private long onednnCalls;
        private long nd4jCalls;

        Impl(ComputationGraph graph, String name, int index, DataType dataType) {
            super(graph, name, index, null, null, dataType);
        }

        /** Calls served by the oneDNN primitive, and by ND4J's two passes. */
        long onednnCalls() {
            return onednnCalls;
        }

        long nd4jCalls() {
            return nd4jCalls;
        }

        @Override
        public boolean hasLayer() {
            return false;
        }

        @Override
        public Layer getLayer() {
            return null;
        }

        @Override
        public INDArray doForward(boolean training, LayerWorkspaceMgr workspaceMgr) {
            if (!canDoForward()) {
                throw new IllegalStateException("vertex " + vertexName + ": not all inputs set");
            }
            INDArray a = inputs[0];
            INDArray b = inputs[1];
            if (!Arrays.equals(a.shape(), b.shape())) {
                throw new IllegalStateException("vertex " + vertexName + " adds arrays of one shape; got "
                        + Arrays.toString(a.shape()) + " and " + Arrays.toString(b.shape()));
            }
            INDArray out = workspaceMgr.createUninitialized(ArrayType.ACTIVATIONS, dataType, a.shape(), 'c');
            synchronized (this) {
                Plan plan = plain(a) && plain(b) && dataType == DataType.FLOAT ? plan(a) : null;
                if (plan != null) {
                    plan.execute(a, b, out, address);
                    onednnCalls++;
                    return out;
                }
                nd4jCalls++;
            }
            Nd4j.exec(new AddOp(a.castTo(dataType), b.castTo(dataType), out));
            Nd4j.exec(new RectifiedLinear(out, out, 0.0));
            return out;
        }

        private Plan plan(INDArray a) {
            if (!OneDnn.available()) {
                return null;
            }
            Shape4 key = new Shape4(a);
            Plan plan = plans.computeIfAbsent(key, Plan::create);
            return plan.usable() ? plan : null;
        }

        static boolean plain(INDArray x) {
            return x.rank() == 4 && x.dataType() == DataType.FLOAT && x.ordering() == 'c'
                    && Shape.hasDefaultStridesForShape(x) && !x.isEmpty();
        }

        @Override
        public Pair<Gradient, INDArray[]> doBackward(boolean tbptt, LayerWorkspaceMgr workspaceMgr) {
            throw new IllegalStateException("vertex " + vertexName + " belongs to an inference copy and has no"
                    + " backward pass: train the network as built, not its inference copy");
        }

        @Override
        public void setBackpropGradientsViewArray(INDArray backpropGradientsViewArray) {
            if (backpropGradientsViewArray != null) {
                throw new IllegalStateException("vertex " + vertexName + " has no parameters");
            }
        }

        @Override
        public Pair<INDArray, MaskState> feedForwardMaskArrays(INDArray[] maskArrays, MaskState currentMaskState,
                                                               int minibatchSize) {
            if (maskArrays != null) {
                for (INDArray mask : maskArrays) {
                    if (mask != null) {
                        return new Pair<>(mask, currentMaskState);
                    }
                }
            }
            return new Pair<>(null, currentMaskState);
        }

        @Override
        public String toString() {
            return "AddReluVertex(id=" + vertexIndex + ",name=\"" + vertexName + "\")";
        }
    }

    record Shape4(long n, long c, long h, long w) {
        Shape4(INDArray a) {
            this(a.size(0), a.size(1), a.size(2), a.size(3));
        }
    }

    /** The binary primitive for one shape (max(0, a + b)), made once, its three buffers bound per call. */
    static final class Plan {
        private final binary primitive;
        private final memory src0;
        private final memory src1;
        private final memory dst;
        private final IntMemoryMap args = new IntMemoryMap();

        private Plan(binary primitive, memory.desc desc) {
            this.primitive = primitive;
            if (primitive == null) {
                src0 = src1 = dst = null;
                return;
            }
            src0 = OneDnn.unbound(desc);
            src1 = OneDnn.unbound(desc);
            dst = OneDnn.unbound(desc);
            args.put(dnnl.DNNL_ARG_SRC_0, src0);
            args.put(dnnl.DNNL_ARG_SRC_1, src1);
            args.put(dnnl.DNNL_ARG_DST, dst);
        }

        static Plan create(Shape4 s) {
            memory.desc desc = new memory.desc(new long[] {s.n(), s.c(), s.h(), s.w()}, memory.data_type.f32,
                    memory.format_tag.nchw);
            try {
                post_ops relu = new post_ops();
                relu.append_eltwise(1.0f, dnnl.algorithm.eltwise_relu, 0.0f, 0.0f);
                primitive_attr attr = new primitive_attr();
                attr.set_post_ops(relu);
                binary.primitive_desc pd = new binary.primitive_desc(
                        new binary.desc(dnnl.algorithm.binary_add, desc, desc, desc), attr, OneDnn.engine());
                return new Plan(new binary(pd), desc);
            } catch (RuntimeException e) {
                return new Plan(null, desc);
            }
        }

        boolean usable() {
            return primitive != null;
        }

        void execute(INDArray a, INDArray b, INDArray out, OneDnn.Address address) {
            stream s = OneDnn.stream();
            src0.set_data_handle(address.at(OneDnn.address(a)));
            src1.set_data_handle(address.at(OneDnn.address(b)));
            dst.set_data_handle(address.at(OneDnn.address(out)));
            primitive.execute(s, args);
            s._wait();
        }
    }
}
