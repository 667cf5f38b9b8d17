package dev.panvm.bench.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * The report's command run in a test: its exit status, what it printed, and the table rows of
 * the latest.md it wrote, cell by cell as a reader sees them.
 */
record RenderedReport(int status, String out, String err, Path dir) {
    /** The recorded JMH run under src/test/resources/report and its run description. */
    static final Path JMH = resource("run.jmh.json");
    static final Path RUN = resource("run.run.json");

    static Path resource(String name) {
        try {
            return Path.of(Objects.requireNonNull(RenderedReport.class.getResource("/report/" + name)).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Runs {@code Report} with {@code args}; {@code dir} is where its --out points. */
    static RenderedReport run(Path dir, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Report.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new RenderedReport(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8),
                dir);
    }

    /** Renders {@code jmh} (with the recorded run description) into {@code dir}. */
    static RenderedReport of(Path jmh, Path dir) {
        return run(dir, "--jmh", jmh.toString(), "--run", RUN.toString(), "--out", dir.toString());
    }

    /** The recorded run with {@code edit} applied, written to {@code dir}/edited.jmh.json. */
    static Path edited(Path dir, Consumer<ArrayNode> edit) throws IOException {
        JsonMapper json = JsonMapper.builder().build();
        ArrayNode results = (ArrayNode) json.readTree(JMH.toFile());
        edit.accept(results);
        Path file = dir.resolve("edited.jmh.json");
        json.writeValue(file.toFile(), results);
        return file;
    }

    /** Whether {@code result} is one of JMH's results for method {@code shortName} on system {@code vmm}. */
    static boolean isResult(JsonNode result, String shortName, String vmm) {
        return result.get("benchmark").asText().endsWith("." + shortName)
                && result.path("params").path("vmm").asText("panvm").equals(vmm);
    }

    String markdown() throws IOException {
        return Files.readString(dir.resolve("latest.md"));
    }

    /** The cells of every data row of every table (header and alignment rows left out). */
    List<List<String>> rows() throws IOException {
        List<List<String>> rows = new ArrayList<>();
        for (String line : markdown().lines().toList()) {
            if (line.startsWith("| ") && !line.equals(MarkdownReport.TABLE_HEADER.lines().findFirst().orElseThrow())
                    && !line.startsWith("| ---")) {
                String inner = line.substring(2, line.length() - 2);
                rows.add(Arrays.stream(inner.split(" \\| ", -1)).map(c -> c.replace("\\|", "|")).toList());
            }
        }
        return rows;
    }

    /** The one row for a figure (its text) and peer (as the table names it). */
    List<String> row(String figureText, String peer) throws IOException {
        List<List<String>> found = rows().stream().filter(r -> r.get(0).equals(figureText) && r.get(3).equals(peer))
                .toList();
        if (found.size() != 1) {
            throw new AssertionError(found.size() + " rows for " + figureText + " / " + peer);
        }
        return found.getFirst();
    }
}
