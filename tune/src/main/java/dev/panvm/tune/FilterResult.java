package dev.panvm.tune;

import java.util.List;
import java.util.Locale;

/**
 * The outcome of STUN's filtering: the default setting's measurement and one {@link Sensitivity}
 * row per knob. The table ({@link #table()}) is the tuner's first output; the kept knobs span the
 * space Q-learning searches.
 *
 * @param knobs     every knob, in the order given to the filter
 * @param atDefault the workload with every knob at its default
 * @param rows      one row per knob, in the same order
 */
public record FilterResult(List<Knob> knobs, Measurement atDefault, List<Sensitivity> rows) {

    public FilterResult {
        knobs = List.copyOf(knobs);
        rows = List.copyOf(rows);
    }

    /** The knobs whose ends change the result by more than the threshold and the noise. */
    public List<Knob> kept() {
        return rows.stream().filter(Sensitivity::kept).map(Sensitivity::knob).toList();
    }

    /** The space the tuner searches: the kept knobs on their grids, the others at their defaults. */
    public SearchSpace space() {
        return new SearchSpace(knobs, kept());
    }

    /** The sensitivity table in Markdown: each knob's mean ± 95 % half-width at min, default and max. */
    public String table() {
        StringBuilder out = new StringBuilder(
                "| knob | at min | at default | at max | effect | kept |\n| --- | ---: | ---: | ---: | ---: | --- |\n");
        for (Sensitivity row : rows) {
            Knob k = row.knob();
            out.append(String.format(Locale.ROOT, "| %s | %s (%d) | %s (%d) | %s (%d) | %.1f %% | %s |%n",
                    k.name(), cell(row.atMin()), k.min(), cell(row.atDefault()), k.defaultValue(),
                    cell(row.atMax()), k.max(), 100 * row.effect(), row.kept() ? "yes" : "no"));
        }
        return out.toString();
    }

    private static String cell(Measurement m) {
        return String.format(Locale.ROOT, "%.4g ± %.2g", m.mean(), m.halfWidth());
    }
}
