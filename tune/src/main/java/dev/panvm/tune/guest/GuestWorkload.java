package dev.panvm.tune.guest;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * A ferrite workload the tuner can optimise, with the result field it minimises and the
 * parameters it takes (guest-kernel/BOOT.md, "Workloads").
 */
public enum GuestWorkload {
    /** STUN's headline benchmark: {@code perf bench sched messaging}; minimises {@code total_ms}. */
    HACKBENCH("hackbench", "total_ms", "ms", List.of("groups", "loops", "pipe_size")),
    /** {@code perf bench sched pipe}: minimises {@code ns_per_round_trip}. */
    PIPE("pipe", "ns_per_round_trip", "ns per round trip", List.of("ops", "pin"));

    private final String id;
    private final String resultField;
    private final String unit;
    private final List<String> parameters;

    GuestWorkload(String id, String resultField, String unit, List<String> parameters) {
        this.id = id;
        this.resultField = resultField;
        this.unit = unit;
        this.parameters = parameters;
    }

    /** The name ferrite's {@code run} command takes. */
    public String id() {
        return id;
    }

    /** The field of the workload's JSON answer the tuner minimises. */
    public String resultField() {
        return resultField;
    }

    public String unit() {
        return unit;
    }

    public List<String> parameters() {
        return parameters;
    }

    /** The workload named {@code name}, or an error naming the ones there are. */
    public static GuestWorkload of(String name) {
        return Arrays.stream(values()).filter(w -> w.id.equals(name.toLowerCase(Locale.ROOT))).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("unknown workload '" + name + "' (the tuner knows "
                        + Arrays.stream(values()).map(GuestWorkload::id).collect(Collectors.joining(", ")) + ")"));
    }

    /**
     * Parses {@code key=value} parameters for this workload: keys it takes, each once, values
     * that are a number (decimal or 0x hex) or a word of letters. The guest checks ranges itself.
     */
    public Map<String, String> parseParameters(List<String> pairs) {
        Map<String, String> parsed = new LinkedHashMap<>();
        for (String pair : pairs) {
            int eq = pair.indexOf('=');
            if (eq <= 0 || eq == pair.length() - 1) {
                throw new IllegalArgumentException("bad --param '" + pair + "': expected KEY=VALUE");
            }
            String key = pair.substring(0, eq).strip();
            String value = pair.substring(eq + 1).strip();
            if (!parameters.contains(key)) {
                throw new IllegalArgumentException("bad --param '" + pair + "': " + id + " takes " + String.join(", ", parameters));
            }
            if (!value.matches("[0-9]+|0x[0-9a-fA-F]+|[a-z]+")) {
                throw new IllegalArgumentException("bad --param '" + pair + "': the value must be a number or a word");
            }
            if (parsed.put(key, value) != null) {
                throw new IllegalArgumentException("bad --param '" + pair + "': " + key + " given twice");
            }
        }
        return parsed;
    }

    /** The parameters as {@code run}'s words: {@code groups=2 loops=50}. */
    public static String words(Map<String, String> parameters) {
        return parameters.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining(" "));
    }
}
