package dev.panvm.bench.report;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The command: its outputs, the README section, and what it says about bad input. */
class ReportTest {
    private static final String README_BEFORE = "# panvm\n\n## Benchmarks\n\nLatest table:\n\n"
            + ReadmeSplice.START + "\n";
    private static final String README_AFTER = ReadmeSplice.END + "\n\n## Page cache\n\nUnchanged text.\n";

    @TempDir
    Path dir;

    private RenderedReport withReadme(Path readme) {
        return RenderedReport.run(dir, "--jmh", RenderedReport.JMH.toString(), "--run", RenderedReport.RUN.toString(),
                "--out", dir.resolve("bench/results").toString(), "--readme", readme.toString());
    }

    @Test
    void theReadmeGetsTheTableWithLinksRelativeToIt() throws Exception {
        Path readme = Files.writeString(dir.resolve("README.md"), README_BEFORE + "old table\n" + README_AFTER);
        RenderedReport r = withReadme(readme);
        assertEquals(ReportCommand.OK, r.status(), r.err());
        String text = Files.readString(readme);
        assertTrue(text.startsWith(README_BEFORE) && text.endsWith(README_AFTER), text);
        assertFalse(text.contains("old table"));
        assertTrue(text.contains("\n### VMM\n") && text.contains(MarkdownReport.TABLE_HEADER), text);
        assertTrue(text.contains("](bench/results/charts/vmm-exits.png)"), text);
        assertTrue(Files.isRegularFile(dir.resolve("bench/results/charts/vmm-exits.png")));
        assertTrue(r.out().matches("Report: [0-9]+ rows, 7 charts -> .*latest.md and .*README.md\\R"), r.out());
    }

    @Test
    void aReadmeWithoutMarkersStopsTheRunBeforeAnythingIsWritten() throws Exception {
        String original = "# panvm\n\nno markers here\n";
        Path readme = Files.writeString(dir.resolve("README.md"), original);
        RenderedReport r = withReadme(readme);
        assertEquals(ReportCommand.BAD_DATA, r.status());
        assertTrue(r.err().contains(ReadmeSplice.START), r.err());
        assertEquals(original, Files.readString(readme));
        assertFalse(Files.exists(dir.resolve("bench/results")), "nothing written");
    }

    @ParameterizedTest
    @CsvSource(delimiter = ';', value = {
        "--jmh NOWHERE.json --run RUN --out OUT; no such file: NOWHERE.json",
        "--jmh JMH --run RUN --out OUT --readme NOWHERE.md; no such file: NOWHERE.md",
        "--jmh JMH --run RUN; --jmh, --run and --out are required",
        "--jmh JMH --run RUN --out; --out needs a value",
        "--jmh JMH --run RUN --out OUT --colour; unknown argument --colour"})
    void usageErrorsExitWithTwo(String args, String message) {
        String[] argv = args.replace("JMH", RenderedReport.JMH.toString()).replace("RUN", RenderedReport.RUN.toString())
                .replace("OUT", dir.toString()).split(" ");
        RenderedReport r = RenderedReport.run(dir, argv);
        assertEquals(ReportCommand.USAGE, r.status());
        assertTrue(r.err().contains(message) && r.err().contains("usage: Report --jmh"), r.err());
    }

    @ParameterizedTest
    @CsvSource(delimiter = ';', value = {
        "this is not JSON; not JSON",
        "{\"benchmark\": \"x\"}; not a JMH result file (JSON array of results expected, found object)",
        "[]; no results",
        "[{\"primaryMetric\": {\"score\": 1, \"scoreError\": 0.1, \"scoreUnit\": \"ns/op\"}}];"
            + " result 1: no \"benchmark\"",
        "[{\"benchmark\": \"a.B.c\"}]; result 1 (a.B.c): primaryMetric missing",
        "[{\"benchmark\": \"a.B.c\", \"primaryMetric\": {\"score\": \"fast\", \"scoreError\": 0,"
            + " \"scoreUnit\": \"ns/op\"}}]; \"score\" is not a number"})
    void jsonThatIsNotAJmhRunExitsWithOne(String json, String message) throws Exception {
        Path jmh = Files.writeString(dir.resolve("bad.jmh.json"), json);
        RenderedReport r = RenderedReport.of(jmh, dir.resolve("out"));
        assertEquals(ReportCommand.BAD_DATA, r.status());
        assertTrue(r.err().contains(jmh.toString()) && r.err().contains(message), r.err());
        assertFalse(Files.exists(dir.resolve("out")), "nothing written");
    }

    @Test
    void aRunDescriptionThatIsNotJsonExitsWithOne() throws Exception {
        Path run = Files.writeString(dir.resolve("bad.run.json"), "host=PVM");
        RenderedReport r = RenderedReport.run(dir, "--jmh", RenderedReport.JMH.toString(), "--run", run.toString(),
                "--out", dir.toString());
        assertEquals(ReportCommand.BAD_DATA, r.status());
        assertTrue(r.err().contains("bad.run.json: not a run description"), r.err());
    }

    @Test
    void twoResultsForOneFigureAndSystemExitWithOne() throws Exception {
        Path jmh = RenderedReport.edited(dir, results -> results.add(results.get(0).deepCopy()));
        RenderedReport r = RenderedReport.of(jmh, dir.resolve("out"));
        assertEquals(ReportCommand.BAD_DATA, r.status());
        assertTrue(r.err().contains("two results for dev.panvm.bench."), r.err());
    }

    @Test
    void aBenchmarkNotInTheCatalogIsShownByItsJmhName() throws Exception {
        Path jmh = RenderedReport.edited(dir, results -> {
            ObjectNode extra = results.get(0).deepCopy();
            extra.put("benchmark", "dev.panvm.bench.NewBenchmark.fresh").put("mode", "thrpt");
            ((ObjectNode) extra.get("params")).put("vmm", "panvm").put("size", "4096");
            ((ObjectNode) extra.get("primaryMetric")).put("scoreUnit", "ops/ms");
            results.add(extra);
        });
        RenderedReport r = RenderedReport.of(jmh, dir.resolve("out"));
        assertEquals(ReportCommand.OK, r.status(), r.err());
        assertTrue(r.err().contains("NewBenchmark.fresh is not in the report's catalog"), r.err());
        assertTrue(r.markdown().contains("## other (not in the report's catalog)"));
        assertEquals("ops/ms", r.row("NewBenchmark.fresh (threads=1, size=4096)", "—").get(1));
        assertTrue(Files.isRegularFile(dir.resolve("out/charts/other-ops-ms.png")));
    }
}
