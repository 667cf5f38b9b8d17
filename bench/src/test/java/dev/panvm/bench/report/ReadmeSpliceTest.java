package dev.panvm.bench.report;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ReadmeSpliceTest {
    private static final String BEFORE =
            "# panvm\r\n\nSome text with `<!-- bench-table -->` inside a line.\n\n## Benchmarks\n\n";
    private static final String AFTER = "\nHow to read it.\n\n## Next section\ntrailing line without newline";
    private static final String OLD = "| old | table |\n| --- | --- |\n| 1 | 2 |\n";

    private static String readme(String start, String end) {
        return BEFORE + start + "\n" + OLD + end + AFTER;
    }

    @Test
    void theSectionBetweenTheMarkersIsReplacedAndNothingElse() throws Exception {
        String spliced = ReadmeSplice.splice("README.md", readme(ReadmeSplice.START, ReadmeSplice.END), "new table");
        assertEquals(BEFORE + ReadmeSplice.START + "\nnew table\n" + ReadmeSplice.END + AFTER, spliced);
    }

    @Test
    void splicingTwiceGivesTheSameFile() throws Exception {
        String once = ReadmeSplice.splice("README.md", readme(ReadmeSplice.START, ReadmeSplice.END), "table\n");
        assertEquals(once, ReadmeSplice.splice("README.md", once, "table\n"));
    }

    @Test
    void aMissingMarkerIsRefused() {
        String noStart = BEFORE + OLD + ReadmeSplice.END + AFTER;
        BadDataException e = assertThrows(BadDataException.class, () -> ReadmeSplice.splice("README.md", noStart, "x"));
        assertTrue(e.getMessage().contains("README.md") && e.getMessage().contains(ReadmeSplice.START)
                && e.getMessage().contains("found it 0 times"), e.getMessage());
        String noEnd = BEFORE + ReadmeSplice.START + "\n" + OLD + AFTER;
        e = assertThrows(BadDataException.class, () -> ReadmeSplice.splice("README.md", noEnd, "x"));
        assertTrue(e.getMessage().contains(ReadmeSplice.END), e.getMessage());
    }

    @Test
    void markersOutOfOrderOrTwiceAreRefused() {
        BadDataException e = assertThrows(BadDataException.class,
                () -> ReadmeSplice.splice("README.md", readme(ReadmeSplice.END, ReadmeSplice.START), "x"));
        assertTrue(e.getMessage().contains("comes before"), e.getMessage());
        String twice = readme(ReadmeSplice.START, ReadmeSplice.END) + "\n" + ReadmeSplice.START + "\n";
        e = assertThrows(BadDataException.class, () -> ReadmeSplice.splice("README.md", twice, "x"));
        assertTrue(e.getMessage().contains("found it 2 times"), e.getMessage());
    }

    @Test
    void otherMarkersSpliceTheirOwnSectionAndLeaveEveryOtherByte() throws Exception {
        String start = CacheMatrixReport.START;
        String end = CacheMatrixReport.END;
        String benchTable = readme(ReadmeSplice.START, ReadmeSplice.END);
        String tail = "\n## Page-cache policies under the matrix\r\n\nIntro.\n\n";
        String original = benchTable + tail + start + "\nold\nlines\n" + end + "\n\nlast line";
        String spliced = ReadmeSplice.splice("README.md", original, "summary\n", start, end);
        assertEquals(benchTable + tail + start + "\nsummary\n" + end + "\n\nlast line", spliced);
        assertEquals(spliced, ReadmeSplice.splice("README.md", spliced, "summary\n", start, end));
        // the bench table's own splice leaves the new section alone, and the other way round
        String both = ReadmeSplice.splice("README.md", spliced, "new table");
        assertEquals(BEFORE + ReadmeSplice.START + "\nnew table\n" + ReadmeSplice.END + AFTER + tail + start
                + "\nsummary\n" + end + "\n\nlast line", both);
        BadDataException e = assertThrows(BadDataException.class,
                () -> ReadmeSplice.splice("README.md", benchTable, "x", start, end));
        assertTrue(e.getMessage().contains(start) && e.getMessage().contains("found it 0 times")
                && e.getMessage().contains("between " + start + " and " + end), e.getMessage());
    }
}
