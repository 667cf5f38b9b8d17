package dev.panvm.bench.report;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.cfg.JsonNodeFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.math.BigDecimal;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What {@code cachesim --matrix --json} prints: every workload at every cache size replayed
 * through every policy, with each run's device requests and hit ratio, and how often the policy
 * under evaluation ({@code wins.policy}, qlearn) was at least as good as the baselines. Read by
 * {@link #read}, which checks every field it uses and that the {@code wins} it reports are the
 * ones its rows give; the counts the report shows are computed here from the rows, the same way
 * cachesim computes them (at least as good: at most {@code tolerance_pct} % more device requests).
 *
 * @param tolerancePct as cachesim printed it
 * @param manager      the policy under evaluation
 * @param baselines    the policies it is measured against that the matrix has: {@code lru}, then {@code arc}
 */
public record CacheMatrix(int readahead, BigDecimal tolerancePct, List<Integer> sizes, List<String> policies,
                          List<Entry> rows, String manager, List<String> baselines) {
    /** The policy every chart is drawn relative to; the matrix must have it. */
    static final String LRU = "lru";
    /** The baselines, in the order the report names them. */
    static final List<String> BASELINES = List.of(LRU, "arc");
    /** The policy under evaluation when the JSON has no {@code wins}. */
    static final String DEFAULT_MANAGER = "qlearn";

    /** One workload at one cache size; {@code results} in the matrix's policy order. */
    public record Entry(String workload, long accesses, int cachePages, Map<String, Result> results) {
        long requests(String policy) {
            return results.get(policy).deviceRequests();
        }

        /** {@code workload at N pages}, as errors and the report name a row. */
        String label() {
            return workload + " at " + cachePages + " pages";
        }
    }

    /** One policy on one row. {@code hitRatio} keeps the digits cachesim printed. */
    public record Result(BigDecimal hitRatio, long deviceRequests) {
    }

    /** The baselines the policy under evaluation is compared with (itself left out). */
    List<String> rivals() {
        return baselines.stream().filter(b -> !b.equals(manager)).toList();
    }

    /** The rows at {@code size}, in the matrix's order. */
    List<Entry> rowsAt(int size) {
        return rows.stream().filter(r -> r.cachePages() == size).toList();
    }

    /** The workloads, in the order of their first rows. */
    List<String> workloads() {
        return rows.stream().map(Entry::workload).distinct().toList();
    }

    double tolerance() {
        return tolerancePct.doubleValue() / 100.0;
    }

    /**
     * Whether {@code ours} device requests are at most {@code tolerance} (a fraction) more than
     * {@code theirs}: cachesim's {@code at_least_as_good}, in the same floating-point arithmetic.
     */
    static boolean atLeastAsGood(long ours, long theirs, double tolerance) {
        return (double) ours <= (double) theirs * (1.0 + tolerance);
    }

    /** Rows where {@code policy} needs at most {@code reference}'s device requests (no tolerance). */
    int strictWins(String policy, String reference) {
        return (int) rows.stream().filter(r -> atLeastAsGood(r.requests(policy), r.requests(reference), 0.0)).count();
    }

    /** Rows where {@code policy} needs at most {@code tolerance_pct} % more device requests than {@code reference}. */
    int toleranceWins(String policy, String reference) {
        double tolerance = tolerance();
        return (int) rows.stream().filter(r -> atLeastAsGood(r.requests(policy), r.requests(reference), tolerance))
                .count();
    }

    /** The policies with the fewest device requests on {@code row} (several on a tie). */
    Set<String> best(Entry row) {
        long min = row.results().values().stream().mapToLong(Result::deviceRequests).min().orElseThrow();
        Set<String> best = new HashSet<>();
        row.results().forEach((p, r) -> {
            if (r.deviceRequests() == min) {
                best.add(p);
            }
        });
        return best;
    }

    /** Rows where {@code policy} needs the fewest device requests of all (ties count for each). */
    int bestRows(String policy) {
        return (int) rows.stream().filter(r -> best(r).contains(policy)).count();
    }

    /** Reads and checks {@code file}. */
    static CacheMatrix read(Path file) throws BadDataException {
        JsonNode root;
        try {
            root = JsonMapper.builder()
                    .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
                    .disable(JsonNodeFeature.STRIP_TRAILING_BIGDECIMAL_ZEROES)
                    .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                    .build().readTree(file.toFile());
        } catch (JacksonException e) {
            throw new BadDataException(file + ": not JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new BadDataException(file + ": " + e.getMessage());
        }
        return parse(file.getFileName().toString(), root);
    }

    /** Checks {@code root}, the JSON of a file {@code name}. */
    static CacheMatrix parse(String name, JsonNode root) throws BadDataException {
        if (root == null || !root.isObject()) {
            throw new BadDataException(name + ": not cachesim --matrix --json output (a JSON object expected)");
        }
        int readahead = (int) integer(name, root, "readahead", 0, Integer.MAX_VALUE);
        JsonNode tol = field(name, root, "tolerance_pct");
        if (!tol.isNumber() || tol.decimalValue().signum() < 0) {
            throw new BadDataException(name + ": \"tolerance_pct\" is not a number >= 0: " + tol);
        }
        List<Integer> sizes = new ArrayList<>();
        for (JsonNode s : array(name, root, "sizes")) {
            if (!s.canConvertToInt() || !s.isIntegralNumber() || s.intValue() <= 0) {
                throw new BadDataException(name + ": \"sizes\" holds " + s + ", not a cache size in pages");
            }
            if (sizes.contains(s.intValue())) {
                throw new BadDataException(name + ": \"sizes\" names " + s + " twice");
            }
            sizes.add(s.intValue());
        }
        List<String> policies = new ArrayList<>();
        for (JsonNode p : array(name, root, "policies")) {
            if (!p.isTextual() || p.asText().isEmpty()) {
                throw new BadDataException(name + ": \"policies\" holds " + p + ", not a policy's name");
            }
            if (policies.contains(p.asText())) {
                throw new BadDataException(name + ": \"policies\" names " + p + " twice");
            }
            policies.add(p.asText());
        }
        if (!policies.contains(LRU)) {
            throw new BadDataException(name + ": \"policies\" " + policies + " lacks " + LRU
                    + ", the baseline the report is drawn relative to");
        }
        List<Entry> rows = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        JsonNode rowsNode = array(name, root, "rows");
        for (int i = 0; i < rowsNode.size(); i++) {
            Entry e = entry(name + ": row " + (i + 1), rowsNode.get(i), sizes, policies);
            if (!seen.add(e.workload() + "\u0000" + e.cachePages())) {
                throw new BadDataException(name + ": row " + (i + 1) + " (" + e.label() + ") repeats an earlier row");
            }
            rows.add(e);
        }
        JsonNode wins = root.get("wins");
        String manager = DEFAULT_MANAGER;
        if (wins != null && !wins.isNull()) {
            if (!wins.isObject()) {
                throw new BadDataException(name + ": \"wins\" is not an object: " + wins);
            }
            JsonNode policy = field(name + ": wins", wins, "policy");
            if (!policy.isTextual()) {
                throw new BadDataException(name + ": \"wins.policy\" is not a policy's name: " + policy);
            }
            manager = policy.asText();
        }
        if (!policies.contains(manager)) {
            throw new BadDataException(name + ": \"policies\" " + policies + " lacks " + manager
                    + ", the policy under evaluation");
        }
        List<String> baselines = BASELINES.stream().filter(policies::contains).toList();
        CacheMatrix m = new CacheMatrix(readahead, tol.decimalValue(), List.copyOf(sizes), List.copyOf(policies),
                List.copyOf(rows), manager, baselines);
        if (wins != null && !wins.isNull()) {
            m.checkWins(name, wins);
        }
        return m;
    }

    /** The counts cachesim reported are the ones the rows give. */
    private void checkWins(String name, JsonNode wins) throws BadDataException {
        long count = integer(name + ": wins", wins, "rows", 0, Long.MAX_VALUE);
        if (count != rows.size()) {
            throw new BadDataException(name + ": \"wins.rows\" is " + count + " but there are " + rows.size()
                    + " rows");
        }
        JsonNode vs = field(name + ": wins", wins, "vs");
        if (!vs.isObject()) {
            throw new BadDataException(name + ": \"wins.vs\" is not an object: " + vs);
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = vs.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> rival = it.next();
            String where = name + ": wins.vs." + rival.getKey();
            if (!policies.contains(rival.getKey())) {
                throw new BadDataException(where + ": unknown policy \"" + rival.getKey() + "\" (policies: "
                        + policies + ")");
            }
            long within = integer(where, rival.getValue(), "within_tolerance", 0, Long.MAX_VALUE);
            long strict = integer(where, rival.getValue(), "strict", 0, Long.MAX_VALUE);
            int ownWithin = toleranceWins(manager, rival.getKey());
            int ownStrict = strictWins(manager, rival.getKey());
            if (within != ownWithin || strict != ownStrict) {
                throw new BadDataException(where + " says " + within + " rows within tolerance and " + strict
                        + " strict, but the rows give " + ownWithin + " and " + ownStrict);
            }
        }
    }

    private static Entry entry(String where, JsonNode row, List<Integer> sizes, List<String> policies)
            throws BadDataException {
        if (!row.isObject()) {
            throw new BadDataException(where + " is not an object: " + row);
        }
        JsonNode workload = field(where, row, "workload");
        if (!workload.isTextual() || workload.asText().isBlank()) {
            throw new BadDataException(where + ": \"workload\" is not a workload's name: " + workload);
        }
        int pages = (int) integer(where, row, "cache_pages", 1, Integer.MAX_VALUE);
        String named = where + " (" + workload.asText() + " at " + pages + " pages)";
        if (!sizes.contains(pages)) {
            throw new BadDataException(named + ": \"cache_pages\" " + pages + " is not one of \"sizes\" " + sizes);
        }
        long accesses = integer(named, row, "accesses", 0, Long.MAX_VALUE);
        JsonNode results = field(named, row, "results");
        if (!results.isObject()) {
            throw new BadDataException(named + ": \"results\" is not an object: " + results);
        }
        for (Iterator<String> it = results.fieldNames(); it.hasNext(); ) {
            String p = it.next();
            if (!policies.contains(p)) {
                throw new BadDataException(named + ": unknown policy \"" + p + "\" in \"results\" (policies: "
                        + policies + ")");
            }
        }
        Map<String, Result> byPolicy = new LinkedHashMap<>();
        for (String p : policies) {
            JsonNode r = results.get(p);
            if (r == null) {
                throw new BadDataException(named + ": \"results\" lacks policy \"" + p + "\"");
            }
            String at = named + ": results." + p;
            if (!r.isObject()) {
                throw new BadDataException(at + " is not an object: " + r);
            }
            JsonNode hit = field(at, r, "hit_ratio");
            if (!hit.isNumber() || hit.decimalValue().signum() < 0 || hit.decimalValue().compareTo(BigDecimal.ONE) > 0) {
                throw new BadDataException(at + ": \"hit_ratio\" is not a number from 0 to 1: " + hit);
            }
            byPolicy.put(p, new Result(hit.decimalValue(), integer(at, r, "device_requests", 0, Long.MAX_VALUE)));
        }
        return new Entry(workload.asText(), accesses, pages, Collections.unmodifiableMap(byPolicy));
    }

    private static JsonNode field(String where, JsonNode object, String name) throws BadDataException {
        JsonNode v = object.get(name);
        if (v == null || v.isNull()) {
            throw new BadDataException(where + ": \"" + name + "\" missing");
        }
        return v;
    }

    private static JsonNode array(String where, JsonNode object, String name) throws BadDataException {
        JsonNode v = field(where, object, name);
        if (!v.isArray() || v.isEmpty()) {
            throw new BadDataException(where + ": \"" + name + "\" is not a non-empty array: " + v);
        }
        return v;
    }

    private static long integer(String where, JsonNode object, String name, long min, long max)
            throws BadDataException {
        JsonNode v = field(where, object, name);
        if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < min || v.longValue() > max) {
            throw new BadDataException(where + ": \"" + name + "\" is not a whole number"
                    + (min > 0 ? " >= " + min : " >= 0") + ": " + v);
        }
        return v.longValue();
    }
}
