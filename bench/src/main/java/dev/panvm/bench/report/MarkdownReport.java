package dev.panvm.bench.report;

import dev.panvm.bench.RunInfo;
import dev.panvm.bench.report.Figure.Chart;
import dev.panvm.bench.report.Row.Value;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalDouble;

/**
 * The report as Markdown: a header naming the host and the run, how to read the figures, one
 * table per area (figure, unit, panvm, peer, peer's value, panvm / peer, that ratio's error, the
 * guests' own clocks) and links to the charts.
 */
public final class MarkdownReport {
    static final String NONE = "—";
    static final String TABLE_HEADER = """
            | figure | unit | panvm | peer | peer value | panvm / peer | error | guest clock panvm / peer |
            | --- | --- | ---: | --- | ---: | ---: | ---: | ---: |
            """;
    private static final DateTimeFormatter DATE = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm 'UTC'")
            .withZone(ZoneOffset.UTC);

    private MarkdownReport() {
    }

    /**
     * The report's body (no title): {@code headingLevel} for the area headings, chart links as
     * {@code chartDir} + file name.
     */
    static String render(RunInfo run, List<Row> rows, List<Chart> charts, String chartDir, int headingLevel) {
        StringBuilder md = new StringBuilder();
        md.append(header(run));
        for (String area : Figures.areas()) {
            List<Row> inArea = rows.stream().filter(r -> r.figure().area().equals(area)).toList();
            if (inArea.isEmpty()) {
                continue;
            }
            md.append('\n').append("#".repeat(headingLevel)).append(' ').append(area)
                    .append(area.equals(Figures.OTHER) ? " (not in the report's catalog)" : "").append("\n\n");
            md.append(TABLE_HEADER);
            inArea.forEach(r -> md.append(line(r)));
        }
        md.append("\nCharts (bars: means; whiskers: 99.9 % confidence intervals):\n\n");
        charts.forEach(c -> md.append("- [").append(c.title()).append("](").append(chartDir).append(c.name())
                .append(".png)\n"));
        return md.toString();
    }

    private static String header(RunInfo run) {
        return "Host: **" + known(run.host()) + "**; " + known(run.cpu()) + ", " + run.cores() + " cores, kernel "
                + known(run.kernel()) + "; " + known(run.jdk()) + "; " + known(run.qemu()) + "; commit `"
                + known(run.commit()) + "`; run started " + started(run) + ".\n"
                + "Plan: " + known(run.plan()) + "."
                + (run.stealPercent() == null ? "" : String.format(Locale.ROOT,
                        " CPU time the hypervisor under this machine took from it during the run (steal): %.1f %%.",
                        run.stealPercent()))
                + "\n\n"
                + "How to read it: each value is JMH's mean ± the half-width of its 99.9 % confidence interval "
                + "(`±?`: too few iterations for one), each system in its own JMH fork (one long-lived VM, or one "
                + "peer process, per fork), all in this one run on the host named above; figures from another kind "
                + "of host are not comparable. panvm / peer below 1 means panvm is faster (for memory: smaller); "
                + "*error* is that ratio's ± propagated from both intervals. Peers: QEMU microvm with the same "
                + "ferrite image and disk, or the host's own Linux running the same workload as a C program "
                + "(bench/linux-peer). *Guest clock*: the figure as the guest timed it itself (its TSC; the Linux "
                + "peer's own clock), panvm / peer (ratio). " + NONE + ": no result.\n";
    }

    private static String line(Row r) {
        Figure f = r.figure();
        boolean peer = !r.peer().isEmpty();
        return "| " + String.join(" | ", escape(f.text()), f.unitLabel(), value(r.panvm(), f),
                peer ? escape(Figures.systemName(r.peer())) : NONE, peer ? value(r.peerValue(), f) : NONE,
                ratio(r.ratio()), error(r.ratioError()), guest(r)) + " |\n";
    }

    /** {@code mean ± error}, and the rate per second for figures that have one. */
    static String value(Optional<Value> v, Figure f) {
        if (v.isEmpty()) {
            return NONE;
        }
        String rate = f.rate().map(name -> " (" + Numbers.format(f.rateOf(v.get().mean()), Numbers.VALUE_DIGITS)
                + " " + name + ")").orElse("");
        return Numbers.withError(v.get().mean(), v.get().error()) + rate;
    }

    static String ratio(OptionalDouble ratio) {
        return ratio.isEmpty() ? NONE : Numbers.format(ratio.getAsDouble(), Numbers.VALUE_DIGITS);
    }

    static String error(OptionalDouble error) {
        return error.isEmpty() ? NONE : "±" + Numbers.format(error.getAsDouble(), Numbers.ERROR_DIGITS);
    }

    /** {@code panvm / peer (ratio)} by the guests' clocks, in the figure's unit. */
    static String guest(Row r) {
        OptionalDouble ratio = r.guestRatio();
        if (ratio.isEmpty()) {
            return NONE;
        }
        return Numbers.format(r.panvm().get().guest().getAsDouble(), Numbers.VALUE_DIGITS) + " / "
                + Numbers.format(r.peerValue().get().guest().getAsDouble(), Numbers.VALUE_DIGITS) + " ("
                + Numbers.format(ratio.getAsDouble(), Numbers.VALUE_DIGITS) + ")";
    }

    /** A table cell holds no {@code |} of its own. */
    private static String escape(String cell) {
        return cell.replace("|", "\\|");
    }

    /** A field of the run's description, or {@code unknown} where the description lacks it. */
    static String known(String field) {
        return Objects.requireNonNullElse(field, "unknown");
    }

    /** When the run started, to the minute in UTC. */
    static String started(RunInfo run) {
        try {
            return DATE.format(Instant.parse(known(run.started())));
        } catch (DateTimeParseException e) {
            return known(run.started());
        }
    }
}
