package dev.panvm.bench.report;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Puts a report into a README between two marker lines, each alone on its line, once, in that
 * order; every byte outside them stays as it was. The benchmark table goes between {@value #START}
 * and {@value #END}; other reports name their own markers.
 */
public final class ReadmeSplice {
    public static final String START = "<!-- bench-table -->";
    public static final String END = "<!-- /bench-table -->";

    private ReadmeSplice() {
    }

    /** {@code readme} with the lines between {@value #START} and {@value #END} replaced by {@code section}. */
    static String splice(String name, String readme, String section) throws BadDataException {
        return splice(name, readme, section, START, END);
    }

    /** {@code readme} with the lines between the markers {@code start} and {@code end} replaced by {@code section}. */
    static String splice(String name, String readme, String section, String start, String end)
            throws BadDataException {
        int startLine = markerLine(name, readme, start, start, end);
        int endLine = markerLine(name, readme, end, start, end);
        if (endLine < startLine) {
            throw new BadDataException(name + ": " + end + " comes before " + start);
        }
        int afterStart = readme.indexOf('\n', startLine) + 1;
        String body = section.endsWith("\n") ? section : section + "\n";
        return readme.substring(0, afterStart) + body + readme.substring(endLine);
    }

    /** Where the one line holding only {@code marker} begins. */
    private static int markerLine(String name, String readme, String marker, String start, String end)
            throws BadDataException {
        Matcher m = Pattern.compile("^[ \\t]*" + Pattern.quote(marker) + "[ \\t]*\\r?$", Pattern.MULTILINE)
                .matcher(readme);
        List<Integer> lines = new ArrayList<>();
        while (m.find()) {
            lines.add(m.start());
        }
        if (lines.size() != 1) {
            throw new BadDataException(name + ": needs the line " + marker + " exactly once, found it "
                    + lines.size() + " times; the report goes between " + start + " and " + end);
        }
        return lines.getFirst();
    }
}
