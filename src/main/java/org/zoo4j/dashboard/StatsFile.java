package org.zoo4j.dashboard;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.zoo4j.base.Configs;

/**
 * A run's {@code stats.jsonl} as the dashboard reads it while the run appends to it: each call reads only the bytes
 * added since the last, a half-written last line waits for the next call, and where a resumed run repeats steps
 * after its checkpoint the lines written later replace those of the same and later steps.
 */
final class StatsFile {
    private final Path file;
    private long read;
    private JsonNode start;
    private final List<JsonNode> steps = new ArrayList<>();

    StatsFile(Path file) {
        this.file = file;
    }

    /** The start line (the network's layers, outputs), or null before there is one. */
    synchronized JsonNode start() throws IOException {
        refresh();
        return start;
    }

    /** The step lines with a step above {@code after}, in step order. */
    synchronized List<JsonNode> stepsAfter(long after) throws IOException {
        refresh();
        List<JsonNode> newer = new ArrayList<>();
        for (JsonNode s : steps) {
            if (s.path("step").asLong() > after) {
                newer.add(s);
            }
        }
        return newer;
    }

    private void refresh() throws IOException {
        if (!Files.isRegularFile(file)) {
            return;
        }
        long size = Files.size(file);
        if (size < read) { // replaced by a shorter file: read it again from the start
            read = 0;
            start = null;
            steps.clear();
        }
        if (size == read) {
            return;
        }
        byte[] bytes;
        try (RandomAccessFile in = new RandomAccessFile(file.toFile(), "r")) {
            in.seek(read);
            bytes = new byte[(int) Math.min(size - read, 1 << 30)];
            in.readFully(bytes);
        }
        int end = bytes.length;
        while (end > 0 && bytes[end - 1] != '\n') {
            end--; // a line still being written: read it whole next time
        }
        read += end;
        for (String line : new String(bytes, 0, end, StandardCharsets.UTF_8).split("\n")) {
            if (!line.isBlank()) {
                add(line.trim());
            }
        }
    }

    private void add(String line) {
        JsonNode node;
        try {
            node = Configs.json().readTree(line);
        } catch (IOException e) {
            return; // a damaged line (a crash mid-write before a resume): skipped
        }
        if ("start".equals(node.path("type").asText())) {
            start = node;
            return;
        }
        long step = node.path("step").asLong();
        while (!steps.isEmpty() && steps.get(steps.size() - 1).path("step").asLong() >= step) {
            steps.remove(steps.size() - 1); // a resumed run: its own lines replace the ones after its checkpoint
        }
        steps.add(node);
    }
}
