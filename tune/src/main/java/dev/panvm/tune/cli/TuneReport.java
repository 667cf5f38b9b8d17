package dev.panvm.tune.cli;

import dev.panvm.tune.FilterResult;
import dev.panvm.tune.Knob;
import dev.panvm.tune.Measurement;
import dev.panvm.tune.Step;
import dev.panvm.tune.TunerSettings;
import dev.panvm.tune.guest.RepeatsRule;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/** Writes a tuning run's {@code report.md}, {@code sensitivity.md} and {@code learning-curve.png}. */
final class TuneReport {
    private TuneReport() {
    }

    /** The final, fresh measurements: default, best of Q-learning and best of random search, interleaved. */
    record Final(Measurement atDefault, BestSetting bestQ, Measurement q, BestSetting bestRandom, Measurement random) {
    }

    static void writeSensitivity(Path dir, TuneState state, String unit) throws IOException {
        Files.writeString(dir.resolve("sensitivity.md"), "# Sensitivity of " + state.workload() + "\n\n"
                + "Mean ± 95 % half-width of " + state.repeats() + " runs (" + unit + "), each knob alone at its "
                + "tuner range's ends, the others at their defaults; kept when an end moves the mean by more "
                + "than 20 % and the intervals do not overlap (STUN's filter).\n\n" + state.filter().table());
    }

    static String write(Path dir, TuneState state, String unit, RepeatsRule rule, Optional<Final> fin,
                        String hostKind, String stopped) throws IOException {
        FilterResult filter = state.filter();
        StringBuilder md = new StringBuilder();
        md.append("# panvm tune: ").append(state.workload()).append("\n\n");
        md.append("Host: ").append(hostKind).append(". Figures from another kind of host are not comparable.\n\n");
        md.append("## Method\n\n");
        Measurement pilot = state.pilot();
        md.append(String.format(Locale.ROOT, "Pilot: %d runs of the default setting, mean %.4g %s, coefficient of "
                        + "variation %.1f %%. Repeats rule: the fewest runs in %d..%d whose expected 95 %% half-width "
                        + "is at most %.0f %% of the mean (a quarter of STUN's 20 %% threshold): **%d runs per "
                        + "setting** (expected half-width %.1f %%%s).%n%n",
                pilot.samples().size(), pilot.mean(), unit, 100 * pilot.standardDeviation() / pilot.mean(),
                rule.min(), rule.max(), 100 * rule.target(), state.repeats(),
                100 * RepeatsRule.expectedHalfWidth(pilot, state.repeats()),
                RepeatsRule.expectedHalfWidth(pilot, state.repeats()) > rule.target()
                        ? ": the target is out of reach at the bound, so differences below about twice that are noise" : ""));
        md.append("Each step's figure is the mean of its runs (the mean, not the median, so that STUN's reward, "
                + "the filter and the intervals all use one statistic with a Student-t interval). Q-learning and "
                + "random search take the same number of measured steps from the same default; the final "
                + "comparison measures the default and both bests afresh, interleaved run by run, so slow drift "
                + "of the host hits all three alike.\n\n");
        md.append("## Sensitivity (STUN's filter)\n\n").append(filter.table()).append('\n');
        List<Knob> kept = filter.kept();
        if (kept.isEmpty()) {
            md.append("**No knob was kept**: no end of any knob's range moved the result by more than 20 % beyond "
                    + "the noise, so there was nothing to tune and no search ran. On a noisy host, more runs per "
                    + "setting (a longer budget) or a heavier workload may separate an effect from the noise.\n");
        } else {
            md.append("Kept: ").append(String.join(", ", kept.stream().map(Knob::name).toList())).append('.');
            if (!state.forced().isEmpty()) {
                md.append(" Forced by --keep (kept whatever the filter measured): ").append(String.join(", ", state.forced())).append('.');
            }
            md.append("\n\n");
            md.append(String.format(Locale.ROOT, "## Searches%n%nQ-learning: %d steps; random search: %d steps%s.%n%n",
                    state.qSteps(), state.randomSteps(), stopped.isEmpty() ? "" : " (" + stopped + ")"));
            if (state.q() != null) {
                TunerSettings settings = state.q().settings();
                md.append(settings.reference() == TunerSettings.Reference.STUN
                        ? "Q-learning's reward: STUN's exactly (--reward stun), against the default's result for the whole run.\n\n"
                        : String.format(Locale.ROOT, "Q-learning's reward: STUN's, rebased (--reward rebased): rounds of %d steps, "
                                + "each starting from the best setting so far with a fresh Q table and rewarded against that "
                                + "best's result instead of the default's.%n%n", settings.roundSteps()));
            }
            md.append("![learning curve](learning-curve.png)\n\n");
            if (fin.isPresent()) {
                Final f = fin.get();
                md.append("## Best parameters, re-measured afresh\n\n");
                md.append("A search's best is the setting whose runs, pooled over every step that measured it, have the "
                        + "lowest upper 95 % bound of their mean (not the lowest single step, which on a long run is the "
                        + "luckiest draw of hundreds: compare the learning curve's best so far with the fresh means).\n\n");
                md.append("| setting | first found at | steps that measured it | search's pooled mean ± 95 % | fresh mean ± 95 % | improvement over default (95 % CI) |\n");
                md.append("| --- | --- | ---: | ---: | ---: | ---: |\n");
                md.append(String.format(Locale.ROOT, "| default | step 0 | - | %s | %s | - |%n", cell(filter.atDefault()), cell(f.atDefault())));
                row(md, "best by Q-learning", f.bestQ(), f.q(), f.atDefault());
                row(md, "best by random search", f.bestRandom(), f.random(), f.atDefault());
                md.append('\n');
                md.append("| knob | default | best by Q-learning | best by random search |\n| --- | ---: | ---: | ---: |\n");
                for (Knob k : filter.knobs()) {
                    md.append(String.format(Locale.ROOT, "| %s%s | %d | %d | %d |%n", k.name(), kept.contains(k) ? "" : " (not tuned)",
                            k.defaultValue(), f.bestQ().settings().get(k.name()), f.bestRandom().settings().get(k.name())));
                }
                md.append('\n');
                Comparison cq = Comparison.of(f.atDefault(), f.q());
                Comparison cr = Comparison.of(f.atDefault(), f.random());
                md.append(verdict("Q-learning", cq)).append(' ').append(verdict("Random search", cr)).append("\n\n");
                md.append("Note: on the simulated objective of the unit tests, this Q-learning core does not beat "
                        + "random search with the same budget (it tends to oscillate between neighbours; see "
                        + "Tuner's Javadoc), so random search is the baseline to read the Q-learning row against.\n");
            } else {
                md.append("No final comparison: ").append(stopped).append(".\n");
            }
        }
        String text = md.toString();
        Files.writeString(dir.resolve("report.md"), text);
        if (!kept.isEmpty() && state.q() != null) {
            chart(dir.resolve("learning-curve.png"), state, unit);
        }
        return text;
    }

    private static void row(StringBuilder md, String name, BestSetting best, Measurement fresh, Measurement atDefault) {
        Comparison c = Comparison.of(atDefault, fresh);
        md.append(String.format(Locale.ROOT, "| %s | step %d | %d | %s | %s | %+.1f %% ± %.1f %% |%n",
                name, best.firstStep(), best.visits(), cell(best.pooled()), cell(fresh), 100 * c.improvement(), 100 * c.halfWidth()));
    }

    private static String verdict(String search, Comparison c) {
        if (c.significant()) {
            return String.format(Locale.ROOT, "%s's best is faster than the default beyond the noise (%+.1f %% ± %.1f %%).",
                    search, 100 * c.improvement(), 100 * c.halfWidth());
        }
        if (c.improvement() + c.halfWidth() < 0) {
            return String.format(Locale.ROOT, "%s's best is slower than the default when measured afresh (%+.1f %% ± %.1f %%): "
                    + "its search figure was a lucky draw.", search, 100 * c.improvement(), 100 * c.halfWidth());
        }
        return String.format(Locale.ROOT, "%s's best is not distinguishable from the default (%+.1f %% ± %.1f %%).",
                search, 100 * c.improvement(), 100 * c.halfWidth());
    }

    private static String cell(Measurement m) {
        return String.format(Locale.ROOT, "%.4g ± %.2g (n=%d)", m.mean(), m.halfWidth(), m.samples().size());
    }

    /** Step against measured mean and best so far, for both searches. */
    static void chart(Path png, TuneState state, String unit) throws IOException {
        XYSeriesCollection data = new XYSeriesCollection();
        add(data, "Q-learning: step mean", state.q().history(), false);
        add(data, "Q-learning: best so far", state.q().history(), true);
        add(data, "random search: step mean", state.random(), false);
        add(data, "random search: best so far", state.random(), true);
        JFreeChart chart = ChartFactory.createXYLineChart("Learning curve: " + state.workload(), "step",
                "mean " + unit + " (lower is better)", data, PlotOrientation.VERTICAL, true, false, false);
        XYPlot plot = chart.getXYPlot();
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinePaint(Color.LIGHT_GRAY);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer();
        Color[] colors = {new Color(0x1f77b4), new Color(0x1f77b4), new Color(0xd62728), new Color(0xd62728)};
        for (int i = 0; i < 4; i++) {
            renderer.setSeriesPaint(i, colors[i]);
            boolean best = i % 2 == 1;
            renderer.setSeriesShapesVisible(i, !best);
            renderer.setSeriesStroke(i, best ? new BasicStroke(2.5f)
                    : new BasicStroke(1f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {4f, 4f}, 0f));
        }
        plot.setRenderer(renderer);
        ChartUtils.saveChartAsPNG(png.toFile(), chart, 900, 540);
    }

    private static void add(XYSeriesCollection data, String name, List<Step> steps, boolean best) {
        XYSeries series = new XYSeries(name);
        for (Step s : steps) {
            series.add(s.step(), best ? s.bestMean() : s.mean());
        }
        data.addSeries(series);
    }

    /** The settings as {@code name=value} words. */
    static String words(Map<String, Long> settings) {
        StringBuilder out = new StringBuilder();
        settings.forEach((k, v) -> out.append(out.isEmpty() ? "" : " ").append(k).append('=').append(v));
        return out.toString();
    }
}
