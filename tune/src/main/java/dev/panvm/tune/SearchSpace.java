package dev.panvm.tune;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The settings a search visits: the kept knobs on their grids, every other knob at its default.
 * A point of the space is a grid index per kept knob (STUN's state), in the order of {@code kept}.
 *
 * @param knobs every knob the workload is run with
 * @param kept  the knobs the search moves, a subset of {@code knobs}
 */
public record SearchSpace(List<Knob> knobs, List<Knob> kept) {

    public SearchSpace {
        knobs = List.copyOf(knobs);
        kept = List.copyOf(kept);
        if (kept.isEmpty()) {
            throw new IllegalArgumentException("no knob to tune: the filter kept none of " + names(knobs));
        }
        if (!knobs.containsAll(kept)) {
            throw new IllegalArgumentException("kept knobs " + names(kept) + " are not all among " + names(knobs));
        }
    }

    /** Every knob's default, in the order of {@code knobs}. */
    static Map<String, Long> defaults(List<Knob> knobs) {
        Map<String, Long> settings = new LinkedHashMap<>();
        for (Knob knob : knobs) {
            settings.put(knob.name(), knob.defaultValue());
        }
        return settings;
    }

    /** The grid point nearest to the defaults: where the tuner starts. */
    public int[] start() {
        return kept.stream().mapToInt(Knob::defaultIndex).toArray();
    }

    /** The grid size of each kept knob. */
    public int[] sizes() {
        return kept.stream().mapToInt(Knob::steps).toArray();
    }

    /** The grid point nearest to {@code settings} (which need not lie on the grid, as the default's need not). */
    public int[] pointOf(Map<String, Long> settings) {
        return kept.stream().mapToInt(k -> k.indexOf(settings.get(k.name()))).toArray();
    }

    /** The settings of grid point {@code point}: kept knobs at their grid values, the others at their defaults. */
    public Map<String, Long> settings(int[] point) {
        if (point.length != kept.size()) {
            throw new IllegalArgumentException("a point has " + kept.size() + " indexes, not " + point.length);
        }
        Map<String, Long> settings = defaults(knobs);
        for (int i = 0; i < point.length; i++) {
            settings.put(kept.get(i).name(), kept.get(i).value(point[i]));
        }
        return settings;
    }

    private static List<String> names(List<Knob> knobs) {
        return knobs.stream().map(Knob::name).toList();
    }
}
