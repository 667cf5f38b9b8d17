package dev.panvm.bench.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The page-cache matrix's renderer on a hand-made matrix of three rows (two workloads, cache
 * sizes 64 and 256, policies lru, clock, arc and qlearn), whose counts are worked out here by hand.
 */
class CacheMatrixReportTest {
    /** The hand-made matrix under src/test/resources/report. */
    static final Path MATRIX = RenderedReport.resource("cache-matrix.json");
    private static final JsonMapper JSON = JsonMapper.builder().build();

    @TempDir
    Path dir;

    private record Run(int status, String out, String err) {
    }

    private static Run run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = CacheMatrixReport.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** Renders {@code matrix} into {@code dir}/out and returns matrix.md. */
    private String render(Path matrix) throws IOException {
        Run r = run("--matrix", matrix.toString(), "--out", dir.resolve("out").toString());
        assertEquals(ReportCommand.OK, r.status(), r.err());
        return Files.readString(dir.resolve("out").resolve(CacheMatrixReport.MARKDOWN));
    }

    /** The tables of {@code md}: each heading (or the header line where none precedes it) to its rows, cell by cell. */
    private static Map<String, List<List<String>>> tables(String md) {
        Map<String, List<List<String>>> tables = new LinkedHashMap<>();
        String heading = "";
        List<List<String>> rows = null;
        for (String line : md.lines().toList()) {
            if (line.startsWith("#")) {
                heading = line;
            } else if (line.startsWith("| ")) {
                List<String> cells = Arrays.stream(line.substring(2, line.length() - 2).split(" \\| ", -1)).toList();
                if (rows == null) {
                    rows = new ArrayList<>();
                    tables.put(heading.isEmpty() ? line : heading, rows);
                    rows.add(cells); // the header
                } else if (!line.startsWith("| ---")) {
                    rows.add(cells);
                }
            } else {
                rows = null;
            }
        }
        return tables;
    }

    private static List<List<String>> table(String md, String heading) {
        List<List<String>> t = tables(md).get(heading);
        assertNotNull(t, "no table under " + heading + " in\n" + md);
        return t;
    }

    /** The wins table: the table whose header starts with {@code policy}. */
    private static List<List<String>> winsTable(String md) {
        return tables(md).values().stream().filter(t -> t.getFirst().getFirst().equals("policy")).findFirst()
                .orElseThrow(() -> new AssertionError("no wins table in\n" + md));
    }

    @Test
    void theWinCountsOfEveryPolicyAgainstLruAndArc() throws Exception {
        String md = render(MATRIX);
        assertTrue(md.contains("**qlearn**, the policy under evaluation, is at least as good as LRU on **2 of 3** rows "
                + "(no more requests at all: 1) and as ARC on **2 of 3** rows (no more requests at all: 2). Its target, "
                + "at least as good as LRU on every row and as ARC on two thirds of them (2): **not met**."), md);
        List<List<String>> wins = winsTable(md);
        assertEquals(List.of("policy", "≤ LRU", "≤ LRU +1 %", "≤ ARC", "≤ ARC +1 %", "fewest"), wins.getFirst());
        // by hand: rows (fio a, 64), (fio a, 256), (scan, 64); lru 1000/800/500, clock 990/800/520,
        // arc 1005/700/480, qlearn 1005/700/530
        assertEquals(List.of(
                List.of("lru", "—", "—", "1", "1", "0"),
                List.of("clock", "2", "2", "1", "1", "1"),
                List.of("arc", "2", "3", "—", "—", "2"),
                List.of("qlearn", "1", "2", "2", "2", "1")), wins.subList(1, wins.size()));
    }

    @Test
    void theFewestDeviceRequestsOfEachRowAreBold() throws Exception {
        String md = render(MATRIX);
        List<List<String>> small = table(md, "## Cache of 64 pages");
        assertEquals(List.of("workload", "accesses", "lru", "clock", "arc", "qlearn", "qlearn vs LRU", "qlearn vs ARC"),
                small.getFirst());
        assertEquals(List.of("fio a", "4,096", "1,000 (0.5000)", "**990 (0.5100)**", "1,005 (0.4900)",
                "1,005 (0.4950)", "+0.50 %", "0 %"), small.get(1));
        assertEquals(List.of("bench/traces/scan.csv", "2,000", "500 (0.7500)", "520 (0.7400)", "**480 (0.7600)**",
                "530 (0.7350)", "+6.0 %", "+10 %"), small.get(2));
        List<List<String>> large = table(md, "## Cache of 256 pages");
        // a tie: both bold
        assertEquals(List.of("fio a", "4,096", "800 (0.6000)", "800 (0.6000)", "**700 (0.6500)**", "**700 (0.6500)**",
                "-13 %", "0 %"), large.get(1));
        assertEquals(2, large.size());
    }

    @Test
    void theLossParagraphNamesEveryRowWhereQlearnNeedsMoreRequests() throws Exception {
        String md = render(MATRIX);
        assertTrue(md.contains("\nqlearn needs more device requests than LRU on 2 of 3 rows, most first: "
                + "bench/traces/scan.csv at 64 pages, 530 vs 500 (+6.0 %, **beyond the tolerance**); "
                + "fio a at 64 pages, 1,005 vs 1,000 (+0.50 %); 1 of them beyond the 1 % tolerance. "
                + "qlearn needs more device requests than ARC on 1 of 3 rows: "
                + "bench/traces/scan.csv at 64 pages, 530 vs 480 (+10 %, **beyond the tolerance**); "
                + "beyond the 1 % tolerance.\n"), md);
    }

    @Test
    void aMatrixQlearnNeverLosesSaysSo() throws Exception {
        Path edited = edited(root -> {
            for (JsonNode row : root.get("rows")) {
                ((ObjectNode) row.get("results").get("qlearn")).put("device_requests", 1);
            }
            root.remove("wins");
        });
        String md = render(edited);
        assertTrue(md.contains("\nqlearn never needs more device requests than LRU or ARC.\n"), md);
        assertTrue(md.contains("on **3 of 3** rows (no more requests at all: 3)") && md.contains("**met**"), md);
    }

    @Test
    void everyNumberInTheTablesIsTheMatrixs() throws Exception {
        String md = render(MATRIX);
        JsonNode matrix = JSON.readTree(MATRIX.toFile());
        List<String> policies = new ArrayList<>();
        matrix.get("policies").forEach(p -> policies.add(p.asText()));
        int checked = 0;
        for (JsonNode size : matrix.get("sizes")) {
            List<List<String>> t = table(md, "## Cache of " + CacheMatrixMarkdown.count(size.asLong()) + " pages");
            List<String> header = t.getFirst();
            List<JsonNode> rows = new ArrayList<>();
            matrix.get("rows").forEach(r -> {
                if (r.get("cache_pages").asInt() == size.asInt()) {
                    rows.add(r);
                }
            });
            assertEquals(rows.size(), t.size() - 1, "rows at " + size);
            for (int i = 0; i < rows.size(); i++) {
                JsonNode row = rows.get(i);
                List<String> cells = t.get(i + 1);
                assertEquals(row.get("workload").asText(), cells.get(0));
                assertEquals(row.get("accesses").asLong(), whole(cells.get(1)));
                for (String p : policies) {
                    String cell = cells.get(header.indexOf(p)).replace("**", "");
                    String[] parts = cell.split(" ");
                    JsonNode result = row.get("results").get(p);
                    assertEquals(result.get("device_requests").asLong(), whole(parts[0]), p + " in " + cells);
                    assertEquals(0, result.get("hit_ratio").decimalValue()
                            .compareTo(new BigDecimal(parts[1].replaceAll("[()]", ""))), p + " in " + cells);
                    checked++;
                }
                long q = row.get("results").get("qlearn").get("device_requests").asLong();
                for (String b : List.of("lru", "arc")) {
                    long theirs = row.get("results").get(b).get("device_requests").asLong();
                    assertEquals(CacheMatrixMarkdown.percent(q, theirs),
                            cells.get(header.indexOf("qlearn vs " + b.toUpperCase())));
                    double shown = Double.parseDouble(cells.get(header.indexOf("qlearn vs " + b.toUpperCase()))
                            .replace(" %", ""));
                    assertEquals((double) (q - theirs) / theirs * 100, shown, Math.abs(shown) * 0.05 + 1e-9);
                }
            }
        }
        assertEquals(3 * policies.size(), checked);
    }

    private static long whole(String text) {
        return Long.parseLong(text.replace(",", ""));
    }

    @Test
    void chartsAre1200PixelPngsLinkedFromTheMarkdown() throws Exception {
        String md = render(MATRIX);
        Set<String> files;
        try (Stream<Path> list = Files.list(dir.resolve("out"))) {
            files = list.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".png"))
                    .collect(Collectors.toSet());
        }
        assertEquals(Set.of("device-requests-64.png", "device-requests-256.png", "wins.png"), files);
        for (String file : files) {
            BufferedImage png = ImageIO.read(dir.resolve("out").resolve(file).toFile());
            assertNotNull(png, file + " is not an image ImageIO reads");
            assertTrue(png.getWidth() == CacheMatrixCharts.WIDTH && png.getHeight() >= 250, file + ": "
                    + png.getWidth() + "x" + png.getHeight());
            assertTrue(md.contains("](" + file + ")"), "matrix.md links " + file);
        }
    }

    /** The hand-made matrix with {@code edit} applied, written to {@code dir}/edited.json. */
    private Path edited(Consumer<ObjectNode> edit) throws IOException {
        ObjectNode root = (ObjectNode) JSON.readTree(MATRIX.toFile());
        edit.accept(root);
        Path file = dir.resolve("edited.json");
        JSON.writeValue(file.toFile(), root);
        return file;
    }

    private static ObjectNode row(ObjectNode root, int i) {
        return (ObjectNode) root.get("rows").get(i);
    }

    private static ObjectNode result(ObjectNode root, int i, String policy) {
        return (ObjectNode) row(root, i).get("results").get(policy);
    }

    static Stream<Arguments> badMatrices() {
        return Stream.of(
                Arguments.of("no device_requests", (Consumer<ObjectNode>) r -> result(r, 1, "arc").remove("device_requests"),
                        "row 2 (fio a at 256 pages): results.arc: \"device_requests\" missing"),
                Arguments.of("no hit_ratio", (Consumer<ObjectNode>) r -> result(r, 0, "lru").remove("hit_ratio"),
                        "row 1 (fio a at 64 pages): results.lru: \"hit_ratio\" missing"),
                Arguments.of("unknown policy", (Consumer<ObjectNode>) r -> ((ObjectNode) row(r, 2).get("results"))
                        .set("fifo", result(r, 2, "lru").deepCopy()),
                        "row 3 (bench/traces/scan.csv at 64 pages): unknown policy \"fifo\" in \"results\" "
                                + "(policies: [lru, clock, arc, qlearn])"),
                Arguments.of("policy missing", (Consumer<ObjectNode>) r -> ((ObjectNode) row(r, 2).get("results"))
                        .remove("clock"),
                        "row 3 (bench/traces/scan.csv at 64 pages): \"results\" lacks policy \"clock\""),
                Arguments.of("no policies", (Consumer<ObjectNode>) r -> r.remove("policies"),
                        "\"policies\" missing"),
                Arguments.of("no workload", (Consumer<ObjectNode>) r -> row(r, 0).remove("workload"),
                        "row 1: \"workload\" missing"),
                Arguments.of("size not in sizes", (Consumer<ObjectNode>) r -> row(r, 1).put("cache_pages", 128),
                        "row 2 (fio a at 128 pages): \"cache_pages\" 128 is not one of \"sizes\" [64, 256]"),
                Arguments.of("requests not a number", (Consumer<ObjectNode>) r -> result(r, 0, "qlearn")
                        .put("device_requests", "many"),
                        "results.qlearn: \"device_requests\" is not a whole number >= 0: \"many\""),
                Arguments.of("no lru", (Consumer<ObjectNode>) r -> {
                    ((com.fasterxml.jackson.databind.node.ArrayNode) r.get("policies")).remove(0);
                    r.get("rows").forEach(row -> ((ObjectNode) row.get("results")).remove("lru"));
                    r.remove("wins");
                }, "\"policies\" [clock, arc, qlearn] lacks lru"),
                Arguments.of("wins disagree", (Consumer<ObjectNode>) r -> ((ObjectNode) r.get("wins").get("vs")
                        .get("lru")).put("strict", 3),
                        "wins.vs.lru says 2 rows within tolerance and 3 strict, but the rows give 2 and 1"),
                Arguments.of("a row twice", (Consumer<ObjectNode>) r -> ((com.fasterxml.jackson.databind.node.ArrayNode)
                        r.get("rows")).add(row(r, 0).deepCopy()),
                        "row 4 (fio a at 64 pages) repeats an earlier row"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badMatrices")
    void aBadMatrixIsRefusedNamingWhatIsWrong(String what, Consumer<ObjectNode> edit, String message) throws Exception {
        Path bad = edited(edit);
        Run r = run("--matrix", bad.toString(), "--out", dir.resolve("out").toString());
        assertEquals(ReportCommand.BAD_DATA, r.status(), what);
        assertTrue(r.err().startsWith("CacheMatrixReport: edited.json: ") && r.err().contains(message), r.err());
        assertFalse(Files.exists(dir.resolve("out")), "nothing written");
    }

    @Test
    void textThatIsNotJsonIsRefused() throws Exception {
        Path bad = Files.writeString(dir.resolve("matrix.json"), "cachesim: 20/396 runs\n| workload |");
        Run r = run("--matrix", bad.toString(), "--out", dir.resolve("out").toString());
        assertEquals(ReportCommand.BAD_DATA, r.status());
        assertTrue(r.err().contains("matrix.json: not JSON"), r.err());
    }

    private static final String README_BEFORE = "# panvm\r\n\n## Benchmarks\n\n" + ReadmeSplice.START
            + "\nthe bench table\n" + ReadmeSplice.END + "\n\n## Page-cache policies under the matrix\n\nIntro.\n\n";
    private static final String README_AFTER = "\n\n## Later\n\nUnchanged text, no newline at the end";

    @Test
    void theReadmeGetsTheSummaryBetweenItsMarkersAndNothingElseChanges() throws Exception {
        Path readme = Files.writeString(dir.resolve("README.md"), README_BEFORE + CacheMatrixReport.START
                + "\nold summary\n" + CacheMatrixReport.END + README_AFTER);
        Run r = run("--matrix", MATRIX.toString(), "--out", dir.resolve("bench/results/cache-matrix").toString(),
                "--readme", readme.toString());
        assertEquals(ReportCommand.OK, r.status(), r.err());
        String text = Files.readString(readme);
        String start = README_BEFORE + CacheMatrixReport.START + "\n";
        String end = CacheMatrixReport.END + README_AFTER;
        assertTrue(text.startsWith(start) && text.endsWith(end), text);
        String section = text.substring(start.length(), text.length() - end.length());
        String md = Files.readString(dir.resolve("bench/results/cache-matrix/matrix.md"));
        assertFalse(section.contains("old summary") || section.contains("## Cache of"), section);
        assertEquals(winsTable(md), winsTable(section));
        assertTrue(section.contains("](bench/results/cache-matrix/device-requests-64.png)")
                && section.contains("](bench/results/cache-matrix/wins.png)")
                && section.contains("[bench/results/cache-matrix/matrix.md](bench/results/cache-matrix/matrix.md)"),
                section);
        assertTrue(r.out().matches("CacheMatrixReport: 3 rows, 3 charts -> .*matrix.md and .*README.md\\R"), r.out());
        // splicing again gives the same file
        run("--matrix", MATRIX.toString(), "--out", dir.resolve("bench/results/cache-matrix").toString(),
                "--readme", readme.toString());
        assertEquals(text, Files.readString(readme));
    }

    @Test
    void aReadmeWithoutTheMarkersStopsTheRunBeforeAnythingIsWritten() throws Exception {
        String original = README_BEFORE + README_AFTER;
        Path readme = Files.writeString(dir.resolve("README.md"), original);
        Run r = run("--matrix", MATRIX.toString(), "--out", dir.resolve("out").toString(), "--readme",
                readme.toString());
        assertEquals(ReportCommand.BAD_DATA, r.status());
        assertTrue(r.err().contains(CacheMatrixReport.START) && r.err().contains("found it 0 times"), r.err());
        assertEquals(original, Files.readString(readme));
        assertFalse(Files.exists(dir.resolve("out")), "nothing written");
    }

    @ParameterizedTest
    @CsvSource(delimiter = ';', value = {
        "--matrix NOWHERE.json --out OUT; no such file: NOWHERE.json",
        "--matrix MATRIX; --matrix and --out are required",
        "--matrix MATRIX --out; --out needs a value",
        "--matrix MATRIX --out OUT --jmh x; unknown argument --jmh"})
    void usageErrorsExitWithTwo(String args, String message) {
        String[] argv = args.replace("MATRIX", MATRIX.toString()).replace("OUT", dir.toString()).split(" ");
        Run r = run(argv);
        assertEquals(ReportCommand.USAGE, r.status());
        assertTrue(r.err().contains(message) && r.err().contains("usage: CacheMatrixReport --matrix"), r.err());
    }
}
