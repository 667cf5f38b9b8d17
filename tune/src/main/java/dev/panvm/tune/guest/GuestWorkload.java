package dev.panvm.tune.guest;

import java.util.Arrays;
import java.util.Collections;
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
    HACKBENCH("hackbench", "hackbench", "total_ms", "ms", List.of("groups", "loops", "pipe_size"), Map.of(), false),
    /** {@code perf bench sched pipe}: minimises {@code ns_per_round_trip}. */
    PIPE("pipe", "pipe", "ns_per_round_trip", "ns per round trip", List.of("ops", "pin"), Map.of(), false),
    /**
     * A mixed CPU and file I/O load: ferrite's {@code fio} with CPU hogs beside the I/O jobs
     * ({@code cpu_hogs}, BOOT.md), on {@code /data.bin} of images/build's bench-ext2 image
     * (attached read-only); minimises the jobs' {@code elapsed_ns}, so the scheduler must give
     * the I/O jobs the CPU back quickly while the hogs keep it busy.
     */
    MIXED("mixed", "fio", "elapsed_ns", "ns", List.of("file", "jobs", "rw", "rwmixread", "bs", "size", "dist",
            "ops", "seed", "cpu_hogs", "cache", "cache_pages", "readahead"),
            ordered("file=/data.bin", "jobs=2", "rw=randread", "dist=zipf:0.9", "ops=1000", "cpu_hogs=2"), true);

    private final String id;
    private final String guestName;
    private final String resultField;
    private final String unit;
    private final List<String> parameters;
    private final Map<String, String> defaults;
    private final boolean needsDisk;

    GuestWorkload(String id, String guestName, String resultField, String unit, List<String> parameters,
                  Map<String, String> defaults, boolean needsDisk) {
        this.id = id;
        this.guestName = guestName;
        this.resultField = resultField;
        this.unit = unit;
        this.parameters = parameters;
        this.defaults = defaults;
        this.needsDisk = needsDisk;
    }

    /** The name {@code panvm tune --workload} takes. */
    public String id() {
        return id;
    }

    /** The name ferrite's {@code run} command takes. */
    public String guestName() {
        return guestName;
    }

    /** Whether the workload reads a file system: the VM needs a disk image. */
    public boolean needsDisk() {
        return needsDisk;
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
     * Parses {@code key=value} parameters for this workload over its defaults: keys it takes,
     * each once, values that are a number (decimal or 0x hex), a word of letters, a word with a
     * number ({@code zipf:0.9}) or an absolute path. The guest checks ranges itself.
     */
    public Map<String, String> parseParameters(List<String> pairs) {
        Map<String, String> parsed = new LinkedHashMap<>();
        Map<String, String> given = new LinkedHashMap<>();
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
            if (!value.matches("[0-9]+|0x[0-9a-fA-F]+|[a-z]+|[a-z]+:[0-9.]+|/[A-Za-z0-9_./-]+")) {
                throw new IllegalArgumentException("bad --param '" + pair + "': the value must be a number, a word or a path");
            }
            if (given.put(key, value) != null) {
                throw new IllegalArgumentException("bad --param '" + pair + "': " + key + " given twice");
            }
        }
        parsed.putAll(defaults);
        parsed.putAll(given);
        return parsed;
    }

    private static Map<String, String> ordered(String... pairs) {
        Map<String, String> map = new LinkedHashMap<>();
        for (String pair : pairs) {
            int eq = pair.indexOf('=');
            map.put(pair.substring(0, eq), pair.substring(eq + 1));
        }
        return Collections.unmodifiableMap(map);
    }

    /** The parameters as {@code run}'s words: {@code groups=2 loops=50}. */
    public static String words(Map<String, String> parameters) {
        return parameters.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining(" "));
    }
}
