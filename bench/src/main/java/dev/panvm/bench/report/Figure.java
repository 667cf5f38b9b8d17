package dev.panvm.bench.report;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * What one benchmark method measures, as the report shows it: the area it belongs to, the chart
 * it is drawn in, the system it is compared with, a short label for the chart and a sentence for
 * the table (both may name parameters as {@code {groups}}), the unit it is shown in, and which
 * JMH metric holds it. {@link #resolve} fills in one result's parameters.
 *
 * @param peer   the {@code vmm} parameter of the system panvm is compared with; empty for none
 * @param per    what one operation is ({@code per exit}); empty when the figure is not per operation
 * @param metric the secondary metric holding the figure; empty for JMH's primary score
 * @param rate   the name of the figure's reciprocal per second ({@code VMs/s}), if the table shows it
 */
public record Figure(String area, Chart chart, String peer, String label, String text, Unit unit,
                     String per, Optional<String> metric, Optional<String> rate) {

    /**
     * A chart of the report: one per area, or several where an area's figures have different units.
     *
     * @param name the PNG's file name without {@code .png}: lower case, dashes
     * @param axis the value axis's label
     */
    public record Chart(String name, String title, String axis) {
    }

    /** The unit with what it is per: {@code µs per exit}. */
    public String unitLabel() {
        return per.isEmpty() ? unit.symbol() : unit.symbol() + " " + per;
    }

    Figure withMetric(String secondaryMetric) {
        return new Figure(area, chart, peer, label, text, unit, per, Optional.of(secondaryMetric), rate);
    }

    Figure withRate(String rateName) {
        return new Figure(area, chart, peer, label, text, unit, per, metric, Optional.of(rateName));
    }

    /**
     * This figure for one result's parameters ({@code vmm} aside): each {@code {name}} in label and
     * text replaced by its value; parameters neither names are added in parentheses, so that two
     * results never share a row's text by accident.
     */
    Figure resolve(Map<String, String> params) {
        Map<String, String> unused = new LinkedHashMap<>(params);
        unused.remove("vmm");
        String l = label;
        String t = text;
        for (Map.Entry<String, String> p : params.entrySet()) {
            String placeholder = "{" + p.getKey() + "}";
            if (l.contains(placeholder) || t.contains(placeholder)) {
                l = l.replace(placeholder, p.getValue());
                t = t.replace(placeholder, p.getValue());
                unused.remove(p.getKey());
            }
        }
        if (!unused.isEmpty()) {
            String rest = unused.toString().replace("{", "(").replace("}", ")");
            l += " " + rest;
            t += " " + rest;
        }
        return new Figure(area, chart, peer, l, t, unit, per, metric, rate);
    }

    /** {@code value} (in this figure's unit) as its rate per second. */
    double rateOf(double value) {
        return 1 / Unit.S.convert(value, unit);
    }
}
