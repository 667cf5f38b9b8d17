package dev.panvm.bench.report;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Puts the report into a README between the lines {@value #START} and {@value #END}, each alone on
 * its line, once, in that order; every byte outside them stays as it was.
 */
public final class ReadmeSplice {
    public static final String START = "<!-- bench-table -->";
    public static final String END = "<!-- /bench-table -->";

    private ReadmeSplice() {
    }

    /** {@code readme} with the lines between the markers replaced by {@code section}. */
    static String splice(String name, String readme, String section) throws BadDataException {
        int start = markerLine(name, readme, START);
        int end = markerLine(name, readme, END);
        if (end < start) {
            throw new BadDataException(name + ": " + END + " comes before " + START);
        }
        int afterStart = readme.indexOf('\n', start) + 1;
        String body = section.endsWith("\n") ? section : section + "\n";
        return readme.substring(0, afterStart) + body + readme.substring(end);
    }

    /** Where the one line holding only {@code marker} begins. */
    private static int markerLine(String name, String readme, String marker) throws BadDataException {
        Matcher m = Pattern.compile("^[ \\t]*" + Pattern.quote(marker) + "[ \\t]*\\r?$", Pattern.MULTILINE)
                .matcher(readme);
        List<Integer> lines = new ArrayList<>();
        while (m.find()) {
            lines.add(m.start());
        }
        if (lines.size() != 1) {
            throw new BadDataException(name + ": needs the line " + marker + " exactly once, found it "
                    + lines.size() + " times; the report goes between " + START + " and " + END);
        }
        return lines.getFirst();
    }
}
