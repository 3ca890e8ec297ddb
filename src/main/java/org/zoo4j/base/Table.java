package org.zoo4j.base;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;

/** A plain-text table with aligned columns; numbers (and columns named so) are right-aligned. */
public final class Table {
    private final List<String> header;
    private final boolean[] right;
    private final List<List<String>> rows = new ArrayList<>();

    public Table(String... header) {
        this.header = List.of(header);
        this.right = new boolean[header.length];
    }

    /** Right-aligns the given columns. */
    public Table right(int... columns) {
        for (int c : columns) {
            right[c] = true;
        }
        return this;
    }

    public Table row(Object... cells) {
        List<String> row = new ArrayList<>();
        for (Object c : cells) {
            row.add(c == null ? "" : c.toString());
        }
        rows.add(row);
        return this;
    }

    public void print(PrintStream out) {
        int[] width = new int[header.size()];
        for (int c = 0; c < width.length; c++) {
            width[c] = header.get(c).length();
            for (List<String> r : rows) {
                width[c] = Math.max(width[c], c < r.size() ? r.get(c).length() : 0);
            }
        }
        line(out, header, width);
        StringBuilder rule = new StringBuilder();
        for (int c = 0; c < width.length; c++) {
            rule.append(c == 0 ? "" : "  ").append("-".repeat(width[c]));
        }
        out.println(rule);
        for (List<String> r : rows) {
            line(out, r, width);
        }
    }

    private void line(PrintStream out, List<String> cells, int[] width) {
        StringBuilder sb = new StringBuilder();
        for (int c = 0; c < width.length; c++) {
            String cell = c < cells.size() ? cells.get(c) : "";
            String pad = " ".repeat(width[c] - cell.length());
            sb.append(c == 0 ? "" : "  ").append(right[c] ? pad + cell : cell + (c == width.length - 1 ? "" : pad));
        }
        out.println(sb.toString().stripTrailing());
    }

    /** 1234567 as "1,234,567". */
    public static String count(long n) {
        return String.format("%,d", n);
    }

    /** 4089184256 as "4.09 G". */
    public static String si(double n) {
        if (n >= 1e9) {
            return String.format("%.2f G", n / 1e9);
        }
        if (n >= 1e6) {
            return String.format("%.2f M", n / 1e6);
        }
        if (n >= 1e3) {
            return String.format("%.1f k", n / 1e3);
        }
        return String.format("%.0f", n);
    }
}
