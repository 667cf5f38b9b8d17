package dev.panvm.bench.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The table of a recorded JMH run: every number shown is recomputed here from the JSON, so a
 * real run's JSON can replace the recorded one (src/test/resources/report/run.jmh.json).
 */
class ReportTableTest {
    private static final int FIGURE = 0;
    private static final int UNIT = 1;
    private static final int PANVM = 2;
    private static final int PEER = 3;
    private static final int PEER_VALUE = 4;
    private static final int RATIO = 5;
    private static final int ERROR = 6;
    private static final int GUEST = 7;
    /** Nanoseconds (or MiB) in one unit, as JMH writes units and as the table's unit column does. */
    private static final Map<String, Double> SIZE = Map.of("ns/op", 1.0, "us/op", 1e3, "ms/op", 1e6, "s/op", 1e9,
            "ns", 1.0, "µs", 1e3, "ms", 1e6, "s", 1e9);

    private static final String PORT_IO =
            "port-I/O exit round trip (guest `out` in kernel code -> VMM device -> guest)";

    @TempDir
    Path dir;
    private RenderedReport report;

    @BeforeEach
    void render() {
        report = RenderedReport.of(RenderedReport.JMH, dir);
        assertEquals(ReportCommand.OK, report.status(), report.err());
    }

    /** One figure's JMH results by system, as the test reads them from the JSON. */
    private record Results(Figure figure, Map<String, JsonNode> bySystem) {
    }

    private static Map<String, Results> resultsByFigureText(JsonNode json) {
        Map<String, Results> byText = new LinkedHashMap<>();
        for (JsonNode e : json) {
            String name = e.get("benchmark").asText();
            String shortName = name.substring(name.lastIndexOf('.', name.lastIndexOf('.') - 1) + 1);
            Map<String, String> params = new LinkedHashMap<>();
            e.path("params").properties().forEach(p -> params.put(p.getKey(), p.getValue().asText()));
            String vmm = Optional.ofNullable(params.remove("vmm")).orElse("panvm");
            Figure f = Figures.of(shortName, params, Unit.ofJmh(e.at("/primaryMetric/scoreUnit").asText()));
            byText.computeIfAbsent(f.text(), t -> new Results(f, new HashMap<>())).bySystem().put(vmm, e);
        }
        return byText;
    }

    @Test
    void everyNumberShownIsTheJsonsRecomputed() throws Exception {
        JsonNode json = JsonMapper.builder().build().readTree(RenderedReport.JMH.toFile());
        Map<String, Results> results = resultsByFigureText(json);
        Set<JsonNode> shown = Collections.newSetFromMap(new IdentityHashMap<>());
        List<List<String>> rows = report.rows();
        for (List<String> row : rows) {
            Results r = results.get(row.get(FIGURE));
            assertNotNull(r, "a row for no result: " + row);
            double unit = SIZE.getOrDefault(row.get(UNIT).split(" ")[0], 1.0);
            JsonNode panvm = r.bySystem().get("panvm");
            JsonNode peer = r.bySystem().entrySet().stream()
                    .filter(s -> Figures.systemName(s.getKey()).equals(row.get(PEER)))
                    .map(Map.Entry::getValue).findFirst().orElse(null);
            String where = row.get(FIGURE) + " / " + row.get(PEER);
            assertEquals(value(panvm, r.figure(), unit), row.get(PANVM), where);
            assertEquals(value(peer, r.figure(), unit), row.get(PEER_VALUE), where);
            JsonNode a = metric(panvm, r.figure());
            JsonNode b = metric(peer, r.figure());
            if (a != null && b != null) {
                double ratio = score(a, "score") / score(b, "score");
                assertEquals(Numbers.format(ratio, 3), row.get(RATIO), where);
                double error = ratio * Math.hypot(score(a, "scoreError") / score(a, "score"),
                        score(b, "scoreError") / score(b, "score"));
                assertEquals("±" + Numbers.format(error, 2), row.get(ERROR), where);
            } else {
                assertEquals("—", row.get(RATIO), where);
                assertEquals("—", row.get(ERROR), where);
            }
            assertEquals(guest(panvm, peer, unit), row.get(GUEST), where);
            Optional.ofNullable(panvm).ifPresent(shown::add);
            Optional.ofNullable(peer).ifPresent(shown::add);
        }
        assertEquals(json.size(), shown.size(), "every result is shown in a row");
    }

    private static JsonNode metric(JsonNode entry, Figure f) {
        if (entry == null) {
            return null;
        }
        return f.metric().map(m -> entry.path("secondaryMetrics").get(m)).orElse(entry.get("primaryMetric"));
    }

    /** JMH writes NaN as a string. */
    private static double score(JsonNode metric, String field) {
        return Double.parseDouble(metric.get(field).asText());
    }

    private static String value(JsonNode entry, Figure f, double unit) {
        JsonNode m = metric(entry, f);
        if (m == null) {
            return "—";
        }
        double jmhUnit = SIZE.getOrDefault(m.get("scoreUnit").asText(), 1.0);
        double mean = score(m, "score") * jmhUnit / unit;
        String shown = Numbers.withError(mean, score(m, "scoreError") * jmhUnit / unit);
        return shown + f.rate().map(r -> " (" + Numbers.format(1e9 / (mean * unit), 3) + " " + r + ")").orElse("");
    }

    private static String guest(JsonNode panvm, JsonNode peer, double unit) {
        if (panvm == null || peer == null || !panvm.at("/secondaryMetrics").has(dev.panvm.bench.SecondaryMetrics.GUEST_NS_PER_OP)
                || !peer.at("/secondaryMetrics").has(dev.panvm.bench.SecondaryMetrics.GUEST_NS_PER_OP)) {
            return "—";
        }
        double a = score(panvm.at("/secondaryMetrics").get(dev.panvm.bench.SecondaryMetrics.GUEST_NS_PER_OP), "score");
        double b = score(peer.at("/secondaryMetrics").get(dev.panvm.bench.SecondaryMetrics.GUEST_NS_PER_OP), "score");
        return Numbers.format(a / unit, 3) + " / " + Numbers.format(b / unit, 3) + " ("
                + Numbers.format(a / b, 3) + ")";
    }

    @Test
    void aResultWithoutItsPeerShowsADashAndNoRatio() throws Exception {
        Path jmh = RenderedReport.edited(dir, results -> results.removeIf(
                r -> RenderedReport.isResult(r, "ExitBenchmark.portIo", "qemu")));
        RenderedReport edited = RenderedReport.of(jmh, dir.resolve("edited"));
        assertEquals(ReportCommand.OK, edited.status(), edited.err());
        List<String> row = edited.row(PORT_IO, "QEMU");
        assertTrue(row.get(PANVM).matches("[0-9,.]+ ± [0-9,.]+"), row.get(PANVM));
        assertEquals(List.of("—", "—", "—", "—"), row.subList(PEER_VALUE, GUEST + 1));
    }

    @Test
    void aFigureWithoutPeerShowsDashes() throws Exception {
        List<String> row = report.row("virtqueue processing, mock driver, no KVM (virtio-blk reads on a null "
                + "backend, 64 per notification)", "—");
        assertEquals(List.of("—", "—", "—", "—"), row.subList(PEER_VALUE, GUEST + 1));
    }

    @Test
    void anUnknownErrorShowsAQuestionMark() throws Exception {
        Path jmh = RenderedReport.edited(dir, results -> results.forEach(r -> {
            if (RenderedReport.isResult(r, "ExitBenchmark.portIo", "panvm")) {
                ((ObjectNode) r.get("primaryMetric")).put("scoreError", "NaN");
            }
        }));
        RenderedReport edited = RenderedReport.of(jmh, dir.resolve("edited"));
        assertEquals(ReportCommand.OK, edited.status(), edited.err());
        List<String> row = edited.row(PORT_IO, "QEMU");
        assertTrue(row.get(PANVM).endsWith(" ±?"), row.get(PANVM));
        assertEquals("±?", row.get(ERROR));
        assertTrue(row.get(RATIO).matches("[0-9.]+"), "the means still have a ratio: " + row.get(RATIO));
    }

    @Test
    void unitsReadNaturallyAndTheLifecycleAlsoAsVmsPerSecond() throws Exception {
        assertEquals("µs per exit", report.row(PORT_IO, "QEMU").get(UNIT));
        assertEquals("MiB", report.row("resident memory beyond guest RAM, after a workload (512 MiB guest)", "QEMU")
                .get(UNIT));
        List<String> lifecycle = report.row("VM started, run to exit and torn down (panvm: all in one process; "
                + "QEMU: a process per VM)", "QEMU");
        assertEquals("ms per VM", lifecycle.get(UNIT));
        assertTrue(lifecycle.get(PANVM).matches("[0-9.]+ ± [0-9.]+ \\([0-9.]+ VMs/s\\)"), lifecycle.get(PANVM));
    }

    @Test
    void theHeaderNamesHostRunAndHowToReadIt() throws Exception {
        String md = report.markdown();
        for (String fact : List.of("**PVM host (kvm_pvm: software virtualization, no VT-x/AMD-V)**",
                "Intel(R) Xeon(R) Processor, 2 cores, kernel 6.18.44-fc-v1147", "JDK 25.0.3+9-LTS",
                "QEMU emulator version 7.2.22", "commit `7291ac2-dirty`", "Plan: quick: one fork per benchmark",
                "2026-12-03 11:40 UTC", "(steal): 3.3 %", "99.9 % confidence interval", "below 1 means panvm is faster")) {
            assertTrue(md.contains(fact), fact);
        }
    }

    @Test
    void areasAreListedInTheCatalogsOrder() throws Exception {
        List<String> headings = report.markdown().lines().filter(l -> l.startsWith("## ")).map(l -> l.substring(3))
                .toList();
        assertEquals(List.of("VMM", "scheduler", "allocator", "block", "page cache"), headings);
    }
}
