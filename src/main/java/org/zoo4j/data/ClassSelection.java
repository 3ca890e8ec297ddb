package org.zoo4j.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.zoo4j.base.InputShape;

/** The images of some classes of a source, relabelled 0, 1, ... in the order the classes are given. */
final class ClassSelection implements ImageSource {
    private final ImageSource source;
    private final int[] images;
    private final int[] labels;

    private ClassSelection(ImageSource source, int[] newLabelOfOld) {
        this.source = source;
        int count = 0;
        for (int i = 0; i < source.size(); i++) {
            if (newLabelOfOld[source.label(i)] >= 0) {
                count++;
            }
        }
        images = new int[count];
        labels = new int[count];
        for (int i = 0, k = 0; i < source.size(); i++) {
            int label = newLabelOfOld[source.label(i)];
            if (label >= 0) {
                images[k] = i;
                labels[k++] = label;
            }
        }
    }

    /** {@code data} restricted to {@code classes} (indices into its class list); the names follow the classes. */
    static DatasetLoader.Loaded select(DatasetLoader.Loaded data, List<Integer> classes) {
        int[] newLabelOfOld = new int[data.classes().size()];
        Arrays.fill(newLabelOfOld, -1);
        List<String> names = new ArrayList<>();
        for (int c : classes) {
            if (c >= data.classes().size()) {
                throw new DataException("data.classes: " + data.name() + " has classes 0 to " + (data.classes().size() - 1)
                        + " " + data.classes() + "; " + c + " is not one of them");
            }
            newLabelOfOld[c] = names.size();
            names.add(data.classes().get(c));
        }
        return new DatasetLoader.Loaded(data.name() + " classes " + classes, List.copyOf(names),
                new ClassSelection(data.trainPool(), newLabelOfOld),
                data.test() == null ? null : new ClassSelection(data.test(), newLabelOfOld),
                data.validation() == null ? null : new ClassSelection(data.validation(), newLabelOfOld),
                data.unreadable());
    }

    @Override
    public int size() {
        return images.length;
    }

    @Override
    public int label(int index) {
        return labels[index];
    }

    @Override
    public boolean read(int index, InputShape shape, float[] dst, int offset) {
        return source.read(images[index], shape, dst, offset);
    }

    @Override
    public String describe(int index) {
        return source.describe(images[index]);
    }
}
