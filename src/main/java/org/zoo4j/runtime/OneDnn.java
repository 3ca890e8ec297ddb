package org.zoo4j.runtime;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.dnnl.dnnl_version_t;
import org.bytedeco.dnnl.engine;
import org.bytedeco.dnnl.memory;
import org.bytedeco.dnnl.reorder;
import org.bytedeco.dnnl.stream;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * oneDNN through its JavaCPP presets ({@code org.bytedeco:dnnl}): whether the natives loaded, the CPU engine, a stream
 * and reusable scratch memory per thread. Used by {@link OneDnnConvolutionHelper}, {@link OneDnnBatchNormHelper} and
 * {@link AddReluVertex}.
 *
 * <p>This is a second copy of oneDNN beside the one linked into libnd4j (which is not exported, so the two do not
 * clash). The preset's library is built with OpenMP and asks for {@code libgomp.so.1}; ND4J has loaded its own
 * {@code libgomp.so.1} by then ({@link Backend#init()} runs first), so both run on that one OpenMP runtime and the same
 * thread team: there is no second pool of spinning threads. {@link #openMpRuntimes()} checks this at run time.
 */
final class OneDnn {
    private static final Loaded LOADED = load();

    private OneDnn() {
    }

    private record Loaded(engine engine, String version, String failure) {
    }

    private static Loaded load() {
        try {
            BackendInfo backend = Backend.init(); // ND4J's natives (and its libgomp) first
            if (!"CPU".equalsIgnoreCase(backend.backend())) { // arrays in GPU memory: not for a CPU engine
                return new Loaded(null, null, "ND4J backend " + backend.backend() + ": zoo4j calls oneDNN on CPU arrays"
                        + " only");
            }
            dnnl_version_t v = org.bytedeco.dnnl.global.dnnl.dnnl_version();
            String version = v.major() + "." + v.minor() + "." + v.patch();
            return new Loaded(new engine(engine.kind.cpu, 0), version, null);
        } catch (Throwable t) { // UnsatisfiedLinkError, NoClassDefFoundError, ExceptionInInitializerError, dnnl errors
            String message = t.getMessage() == null ? t.getClass().getSimpleName()
                    : t.getClass().getSimpleName() + ": " + t.getMessage();
            return new Loaded(null, null, message.length() > 200 ? message.substring(0, 200) + "..." : message);
        }
    }

    /** Whether the dnnl natives loaded and a CPU engine was made. */
    static boolean available() {
        return LOADED.failure == null;
    }

    /** Why the natives are not available, or null. */
    static String failure() {
        return LOADED.failure;
    }

    /** "2.5.2", or null when not loaded. */
    static String version() {
        return LOADED.version;
    }

    static engine engine() {
        return LOADED.engine;
    }

    private static final ThreadLocal<stream> STREAMS = ThreadLocal.withInitial(() -> new stream(LOADED.engine));
    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /** This thread's stream on the CPU engine (in order; execution on the CPU engine is synchronous). */
    static stream stream() {
        return STREAMS.get();
    }

    /** This thread's scratch memory: transient buffers reused by every call on the thread. */
    static Scratch scratch() {
        return SCRATCH.get();
    }

    /** How many distinct {@code libgomp} files this process has mapped (1: one OpenMP runtime for both libraries). */
    static long openMpRuntimes() {
        try {
            List<String> maps = Files.readAllLines(Path.of("/proc/self/maps"));
            return maps.stream().filter(l -> l.contains("libgomp")).map(l -> l.substring(l.lastIndexOf(' ') + 1))
                    .distinct().count();
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /** How many shapes' primitives a helper or vertex keeps ({@link #plans}). */
    static final int PLANS_KEPT = 4;

    /**
     * A map of one helper's or vertex's primitives by shape that keeps the {@value #PLANS_KEPT} most recently used (a
     * layer sees a few shapes: the last batch of an epoch is smaller); the rest are dropped.
     */
    static <K, V> Map<K, V> plans() {
        return new LinkedHashMap<>(8, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<K, V> eldest) {
                return size() > PLANS_KEPT;
            }
        };
    }

    /** The native address of an array's first element. */
    static long address(INDArray a) {
        return a.data().address() + a.offset() * a.data().getElementSize();
    }

    /** A pointer to a fixed native address, for {@link memory#set_data_handle}; not owning. */
    static final class Address extends Pointer {
        Address() {
        }

        Address at(long nativeAddress) {
            this.address = nativeAddress;
            return this;
        }
    }

    /**
     * Rewrites the array at {@code address}, which holds {@code dims} (NCHW) in the blocked layout {@code blocked}, as
     * plain NCHW in place: a reorder into a scratch buffer and a copy back. For the rare paths that read an array as
     * NCHW after a linked layer wrote it in place ({@link Link}).
     */
    static void toPlainInPlace(long address, memory.desc blocked, long[] dims) {
        memory.desc plain = new memory.desc(dims, memory.data_type.f32, memory.format_tag.nchw);
        long bytes = plain.get_size();
        long buffer = scratch().buffer(Slot.RESTORE, bytes);
        Address at = new Address();
        memory from = new memory(blocked, LOADED.engine, new Pointer());
        memory to = new memory(plain, LOADED.engine, new Pointer());
        from.set_data_handle(at.at(address));
        to.set_data_handle(new Address().at(buffer));
        stream s = stream();
        new reorder(from, to).execute(s, from, to);
        s._wait();
        Pointer.memcpy(new Address().at(address), new Address().at(buffer), bytes);
    }

    /**
     * Rewrites the NCHW array at {@code address} ({@code dims}) in the blocked layout {@code blocked}, in place, which
     * must take as many bytes: the reverse of {@link #toPlainInPlace}, for the rare path that made an array as NCHW
     * where the other end of a {@link Bridge} reads it blocked.
     */
    static void toBlockedInPlace(long address, memory.desc blocked, long[] dims) {
        memory.desc plain = new memory.desc(dims, memory.data_type.f32, memory.format_tag.nchw);
        long bytes = blocked.get_size();
        if (bytes != plain.get_size()) {
            throw new IllegalArgumentException("a blocked layout of other size than NCHW cannot be written in place");
        }
        long buffer = scratch().buffer(Slot.RESTORE, bytes);
        memory from = new memory(plain, LOADED.engine, new Pointer());
        memory to = new memory(blocked, LOADED.engine, new Pointer());
        from.set_data_handle(new Address().at(address));
        to.set_data_handle(new Address().at(buffer));
        stream s = stream();
        new reorder(from, to).execute(s, from, to);
        s._wait();
        Pointer.memcpy(new Address().at(address), new Address().at(buffer), bytes);
    }

    /**
     * Whether two layouts are both given and the same. (A desc's {@code equals(desc)} is oneDNN's {@code ==}, which
     * takes no null.)
     */
    static boolean sameLayout(memory.desc a, memory.desc b) {
        return a != null && b != null && a.equals(b);
    }

    /** An empty memory object of the given layout, its buffer set per call. */
    static memory unbound(memory.desc desc) {
        return new memory(desc, LOADED.engine, new Pointer());
    }

    /**
     * The two ends of a convolution whose only reader is a batch norm: the convolution's forward result and the batch
     * norm's input gradient are handed from one to the other in oneDNN's blocked layout, through this thread's
     * {@link Scratch}, instead of being reordered to NCHW and back; or, where {@link #allowInPlace allowed}, held in
     * that layout by the two arrays DL4J passes between them. Made by {@link LayerHelpers#install} for such pairs.
     */
    static final class Link {
        private final String name;
        /**
         * Whether the two arrays between the ends may hold the blocked layout itself, written in place of the NCHW
         * values (where the blocked layout takes the same bytes: channels in whole blocks): a graph about to be trained
         * with {@code fit} ({@link LayerHelpers#installForTraining}). Each array is then written and read once per
         * step in oneDNN's layout and never reordered; only the two layers read them (the link's condition), and either
         * end restores NCHW in place before any path that reads the array as NCHW ({@link #toPlainInPlace}).
         */
        private volatile boolean inPlace;
        /** The batch norm's last forward pass was a training pass through oneDNN (so the next one likely is too). */
        private boolean batchNormTraining;
        /** The layout of the convolution's last result where it was written in place (blocked), till the batch norm reads it. */
        private memory.desc resultInPlace;
        /** The layout the convolution's backward pass last took its output gradient in, where it can take it in place. */
        private memory.desc gradientWanted;
        /** The layout of the batch norm's input gradient where it was written in place (blocked), till the convolution reads it. */
        private memory.desc gradientInPlace;
        private long resultsInPlace;
        private long gradientsInPlace;

        Link(String name) {
            this.name = name;
        }

        void allowInPlace(boolean allowed) {
            inPlace = allowed;
        }

        boolean inPlaceAllowed() {
            return inPlace;
        }

        /** Whether the convolution should write its forward result in place: the batch norm is expected to take it. */
        boolean resultInPlaceWanted() {
            return inPlace && batchNormTraining;
        }

        /** The convolution wrote its result in place in layout {@code desc} (null: as NCHW). */
        void resultWritten(memory.desc desc) {
            resultInPlace = desc;
            if (desc != null) {
                resultsInPlace++;
            }
        }

        /** Forward results the convolution wrote in place in the blocked layout. */
        long resultsInPlace() {
            return resultsInPlace;
        }

        /** Input gradients the batch norm wrote in place in the blocked layout. */
        long gradientsInPlace() {
            return gradientsInPlace;
        }

        /** The layout the convolution's result was written in place in, or null (NCHW); it is then no longer pending. */
        memory.desc takeResult(boolean training) {
            memory.desc d = resultInPlace;
            resultInPlace = null;
            batchNormTraining = training;
            return d;
        }

        /** The layout the batch norm should write its input gradient in place in, or null (NCHW). */
        memory.desc gradientInPlaceWanted() {
            return inPlace ? gradientWanted : null;
        }

        /** The convolution's backward pass takes its output gradient in layout {@code desc} in place (null: it cannot). */
        void gradientTakes(memory.desc desc) {
            gradientWanted = desc;
        }

        /** The batch norm wrote its input gradient in place in layout {@code desc} (null: as NCHW). */
        void gradientWritten(memory.desc desc) {
            gradientInPlace = desc;
            if (desc != null) {
                gradientsInPlace++;
            }
        }

        /** The layout the batch norm's input gradient was written in place in, or null (NCHW); no longer pending. */
        memory.desc takeGradient() {
            memory.desc d = gradientInPlace;
            gradientInPlace = null;
            return d;
        }

        @Override
        public String toString() {
            return name;
        }
    }

    /**
     * A batch norm whose only reader is a plain ReLU layer whose only reader is a convolution (in a residual block: the
     * first batch norm, its ReLU and the second convolution), in a graph trained with {@code fit}
     * ({@link LayerHelpers#installForTraining}). During a training step the batch norm's output y, the ReLU's output,
     * the convolution's input gradient and the ReLU's input gradient hold the blocked layout the convolution's three
     * primitives and the batch norm's run on, in place of NCHW (where it takes the same bytes): five reorders fewer per
     * step (y written and the convolution's input read forward; that input read again, the input gradient written and
     * the batch norm's output gradient read backward). The ReLU is element-wise in both
     * directions, so it reads and writes that layout as it would NCHW, and its mask (y) and the gradient it masks are
     * always in one layout: whatever path the convolution's backward pass takes, its input gradient is written in the
     * layout y holds ({@link #outputLayout}), and the batch norm's backward pass reads its output gradient so.
     *
     * <p>The batch norm writes y in place only in a training pass through oneDNN, and only once the convolution has
     * said which layout all three of its passes take its input in ({@link #convolutionTakes}); any other pass writes
     * NCHW. A convolution forward pass that cannot take the layout rewrites its input as NCHW first.
     */
    static final class Bridge {
        private final String name;
        /** The layout the convolution's forward, backward-weights and backward-data passes all take in place; or null. */
        private memory.desc convolutionTakes;
        /** The layout y holds in the current step (null: NCHW), till the batch norm's backward pass takes its gradient. */
        private memory.desc outputLayout;
        /** Whether the convolution's forward pass has yet to read the ReLU's output written in {@link #outputLayout}. */
        private boolean inputPending;
        private long outputsInPlace;
        private long gradientsInPlace;
        private long inputsRestored;
        private long gradientsRewritten;

        Bridge(String name) {
            this.name = name;
        }

        /** The convolution's three passes all take their input (gradient) in place in {@code desc}; null: they do not. */
        void convolutionTakes(memory.desc desc) {
            convolutionTakes = desc;
        }

        /** The layout the batch norm should write y in, in place, in a training pass; null: NCHW. */
        memory.desc outputWanted() {
            return convolutionTakes;
        }

        /** The batch norm's forward pass wrote y in {@code desc} in place (null: NCHW, any pass but the in-place one). */
        void outputWritten(memory.desc desc) {
            outputLayout = desc;
            inputPending = desc != null;
            if (desc != null) {
                outputsInPlace++;
            }
        }

        /** The layout the convolution's input was written in, in place, in this step; null: NCHW or read already. */
        memory.desc takeInput() {
            memory.desc d = inputPending ? outputLayout : null;
            inputPending = false;
            return d;
        }

        /** The layout y holds in this step, which the convolution's input gradient must be written in; null: NCHW. */
        memory.desc outputLayout() {
            return outputLayout;
        }

        /** {@link #outputLayout}, for the batch norm's backward pass, which reads its output gradient in it; then NCHW. */
        memory.desc takeGradient() {
            memory.desc d = outputLayout;
            outputLayout = null;
            inputPending = false;
            return d;
        }

        /** The convolution's input gradient was written in place in the blocked layout (by its primitive or a rewrite). */
        void gradientWritten(boolean byPrimitive) {
            if (byPrimitive) {
                gradientsInPlace++;
            } else {
                gradientsRewritten++;
            }
        }

        /**
         * An array of the bridge was rewritten as NCHW because a pass could not take the blocked layout: the
         * convolution's input, or the batch norm's output gradient.
         */
        void inputRestored() {
            inputsRestored++;
        }

        /** Batch norm outputs written in place in the blocked layout. */
        long outputsInPlace() {
            return outputsInPlace;
        }

        /** Convolution input gradients its backward-data primitive wrote in place in the blocked layout. */
        long gradientsInPlace() {
            return gradientsInPlace;
        }

        /** Arrays rewritten as NCHW, and convolution input gradients rewritten in the blocked layout, on other paths. */
        long rewrites() {
            return inputsRestored + gradientsRewritten;
        }

        @Override
        public String toString() {
            return name;
        }
    }

    /**
     * Transient native buffers, one per role, grown to the largest size asked and reused by every helper on the thread
     * (a call's blocked copies and scratchpad are dead when it returns). 64-byte aligned.
     *
     * <p>One result may be handed on ({@link #hand}): a call that wrote an array in the blocked layout in a scratch
     * buffer and reordered it to its NCHW array leaves the blocked copy for the next call on the thread, which
     * {@link #take}s it instead of reordering that NCHW array in again. Both ends belong to one {@link Link}, made
     * only where nothing else reads or writes the array between the two calls (the convolution's only reader is the
     * batch norm, so no gradient is added into its input gradient either). The copy is given up when any call asks
     * for its buffer, when the other end's call looks for it (whether or not it matches) and when a linked layer's call
     * takes a path without oneDNN; it is only taken for the same link, NCHW address and layout.
     */
    static final class Scratch {
        private final BytePointer[] buffers = new BytePointer[Slot.values().length];
        private final long[] aligned = new long[Slot.values().length];
        private final long[] capacity = new long[Slot.values().length];
        private Slot handedSlot;
        private long handedArray;
        private memory.desc handedDesc;
        private Link handedLink;

        /** Leaves the blocked copy in {@code slot} (layout {@code desc}) of the NCHW array at {@code array}. */
        void hand(Slot slot, long array, memory.desc desc, Link link) {
            handedSlot = slot;
            handedArray = array;
            handedDesc = desc;
            handedLink = link;
        }

        /**
         * The buffer holding the NCHW array at {@code array} in layout {@code desc}, handed on by the other end of
         * {@code link} and not given up since; 0 where there is none. Either way nothing stays handed.
         */
        long take(long array, memory.desc desc, Link link) {
            Slot slot = handedSlot;
            handedSlot = null;
            boolean match = slot != null && link != null && handedLink == link && handedArray == array
                    && handedDesc.equals(desc);
            handedDesc = null;
            handedLink = null;
            return match ? aligned[slot.ordinal()] : 0;
        }

        /** Gives up what was handed on: a linked layer whose call takes another path calls this. */
        void drop() {
            handedSlot = null;
            handedDesc = null;
            handedLink = null;
        }

        /** The aligned address of at least {@code bytes} bytes for {@code slot}. */
        long buffer(Slot slot, long bytes) {
            if (slot == handedSlot) {
                handedSlot = null; // its contents are about to change
            }
            int i = slot.ordinal();
            if (capacity[i] < bytes) {
                if (buffers[i] != null) {
                    buffers[i].close();
                }
                long size = Math.max(bytes, capacity[i] + capacity[i] / 4);
                buffers[i] = new BytePointer(size + 64);
                aligned[i] = (buffers[i].address() + 63) & ~63L;
                capacity[i] = size;
            }
            return aligned[i];
        }

        long bytesHeld() {
            long total = 0;
            for (long c : capacity) {
                total += c;
            }
            return total;
        }
    }

    /** The roles of transient buffers in one call. */
    enum Slot {
        SRC, DST, DIFF_DST, DIFF_DST_WEIGHTS, DIFF_SRC, WEIGHTS, DIFF_WEIGHTS, SCRATCHPAD, RESTORE
    }
}
