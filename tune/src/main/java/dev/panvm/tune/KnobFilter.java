package dev.panvm.tune;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * STUN's filtering step: before learning, find the parameters that matter. The workload runs with
 * every knob at its default, then with each knob alone at its minimum and at its maximum; a knob
 * is kept when either end moves the result by more than {@code threshold} (STUN: 20 %) relative
 * to the default and by more than the measured noise (the 95 % intervals do not overlap).
 * Dropping the flat knobs keeps the Q table small.
 */
public final class KnobFilter {
    private final double threshold;

    /** @param threshold relative change that makes a knob worth tuning, e.g. 0.2 */
    public KnobFilter(double threshold) {
        if (!(threshold > 0)) {
            throw new IllegalArgumentException("the threshold must be positive, not " + threshold);
        }
        this.threshold = threshold;
    }

    /** STUN's 20 % threshold. */
    public static KnobFilter stun() {
        return new KnobFilter(0.2);
    }

    /** Measures the default and both ends of every knob: {@code 1 + 2 * knobs.size()} measurements. */
    public FilterResult filter(List<Knob> knobs, Objective objective) throws Exception {
        Map<String, Long> defaults = SearchSpace.defaults(knobs);
        Measurement atDefault = objective.measure(defaults);
        List<Sensitivity> rows = new ArrayList<>();
        for (Knob knob : knobs) {
            Measurement atMin = objective.measure(with(defaults, knob.name(), knob.min()));
            Measurement atMax = objective.measure(with(defaults, knob.name(), knob.max()));
            rows.add(Sensitivity.of(knob, atMin, atDefault, atMax, threshold));
        }
        return new FilterResult(knobs, atDefault, rows);
    }

    private static Map<String, Long> with(Map<String, Long> defaults, String name, long value) {
        Map<String, Long> settings = new LinkedHashMap<>(defaults);
        settings.put(name, value);
        return settings;
    }
}
