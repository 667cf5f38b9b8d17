package dev.panvm.bench.report;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * A JMH result file in JMH's JSON result format: an array with one result per benchmark method and
 * parameter set, each with its primary metric (mean score, the half-width of its 99.9 % confidence
 * interval, unit) and the secondary metrics profilers added. Only what the report reads is kept.
 */
public final class JmhResults {
    private JmhResults() {
    }

    /**
     * One metric of a result.
     *
     * @param error JMH's {@code scoreError}; NaN when JMH had too few iterations for an interval
     */
    public record Metric(double score, double error, String unit) {
    }

    /**
     * One result: a benchmark method (JMH's full name, {@code dev.panvm.bench.ExitBenchmark.portIo})
     * with one set of parameters.
     */
    public record Entry(String benchmark, Map<String, String> params, Metric primary, Map<String, Metric> secondary) {
        /** The class's simple name and the method: {@code ExitBenchmark.portIo}. */
        public String shortName() {
            int method = benchmark.lastIndexOf('.');
            return benchmark.substring(benchmark.lastIndexOf('.', method - 1) + 1);
        }

        /** The primary metric, or the named secondary one. */
        Optional<Metric> metric(Optional<String> secondaryName) {
            return secondaryName.isEmpty() ? Optional.of(primary)
                    : Optional.ofNullable(secondary.get(secondaryName.get()));
        }
    }

    /** Reads {@code file}; a file that is not JSON, or not JMH's shape, is {@link BadDataException}. */
    public static List<Entry> read(Path file) throws BadDataException {
        JsonNode root;
        try {
            root = JsonMapper.builder().build().readTree(file.toFile());
        } catch (JacksonException e) {
            throw new BadDataException(file + ": not JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new BadDataException(file + ": " + e.getMessage());
        }
        if (root == null || !root.isArray()) {
            throw new BadDataException(file + ": not a JMH result file (JSON array of results expected, found "
                    + (root == null ? "nothing" : root.getNodeType().toString().toLowerCase(Locale.ROOT)) + ")");
        }
        if (root.isEmpty()) {
            throw new BadDataException(file + ": no results (did every benchmark fail?)");
        }
        List<Entry> entries = new ArrayList<>();
        for (int i = 0; i < root.size(); i++) {
            String where = file + ": result " + (i + 1);
            JsonNode r = root.get(i);
            String benchmark = text(r, "benchmark", where);
            where += " (" + benchmark + ")";
            Map<String, String> params = new LinkedHashMap<>();
            r.path("params").properties().forEach(p -> params.put(p.getKey(), p.getValue().asText()));
            Map<String, Metric> secondary = new LinkedHashMap<>();
            for (Map.Entry<String, JsonNode> m : r.path("secondaryMetrics").properties()) {
                secondary.put(m.getKey(), metric(m.getValue(), where + ": secondary metric " + m.getKey()));
            }
            entries.add(new Entry(benchmark, params, metric(r.path("primaryMetric"), where + ": primaryMetric"),
                    secondary));
        }
        return entries;
    }

    private static Metric metric(JsonNode m, String where) throws BadDataException {
        if (!m.isObject()) {
            throw new BadDataException(where + " missing");
        }
        return new Metric(number(m, "score", where), number(m, "scoreError", where), text(m, "scoreUnit", where));
    }

    /** JMH writes numbers as JSON numbers, and NaN and infinities as strings. */
    private static final Map<String, Double> NON_FINITE = Map.of("NaN", Double.NaN,
            "Infinity", Double.POSITIVE_INFINITY, "-Infinity", Double.NEGATIVE_INFINITY);

    private static double number(JsonNode parent, String field, String where) throws BadDataException {
        JsonNode n = parent.path(field);
        if (n.isNumber()) {
            return n.doubleValue();
        }
        if (n.isTextual() && NON_FINITE.containsKey(n.textValue())) {
            return NON_FINITE.get(n.textValue());
        }
        throw new BadDataException(where + ": \"" + field + "\" is not a number: " + n);
    }

    private static String text(JsonNode parent, String field, String where) throws BadDataException {
        JsonNode n = parent.path(field);
        if (!n.isTextual() || n.textValue().isBlank()) {
            throw new BadDataException(where + ": no \"" + field + "\"");
        }
        return n.textValue();
    }
}
