package dev.panvm.bench.report;

import dev.panvm.bench.RunInfo;
import dev.panvm.bench.report.Figure.Chart;
import dev.panvm.bench.report.Row.Value;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.CategoryAxis;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.axis.NumberTickUnit;
import org.jfree.chart.axis.ValueAxis;
import org.jfree.chart.labels.ItemLabelAnchor;
import org.jfree.chart.labels.ItemLabelPosition;
import org.jfree.chart.labels.StandardCategoryItemLabelGenerator;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.renderer.category.StandardBarPainter;
import org.jfree.chart.renderer.category.StatisticalBarRenderer;
import org.jfree.chart.title.TextTitle;
import org.jfree.chart.ui.RectangleEdge;
import org.jfree.chart.ui.RectangleInsets;
import org.jfree.chart.ui.TextAnchor;
import org.jfree.data.category.CategoryDataset;
import org.jfree.data.statistics.DefaultStatisticalCategoryDataset;

import java.awt.Color;
import java.awt.Font;
import java.awt.geom.Rectangle2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.text.DecimalFormat;
import java.text.DecimalFormatSymbols;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * One PNG bar chart per {@link Chart} of the catalog (one per area; the VMM area's figures come in
 * three units, µs, ms and MiB, so it has three): a category per figure, a horizontal bar per
 * system with its 99.9 % interval as whiskers and its mean written on it. Horizontal, because the
 * figures' labels are long; on a log axis when a chart's means span more than {@value #LOG_SPAN}x,
 * or the small figures would be invisible next to the large ones.
 */
public final class BarCharts {
    static final double LOG_SPAN = 20;
    private static final int WIDTH = 1100;
    private static final int BAR_PX = 16;
    private static final int CATEGORY_GAP_PX = 14;
    /** Title, subtitle, legend and value axis. */
    private static final int FRAME_PX = 170;
    /** The report's colours, the system under test first (Tableau 10's), shared by every chart. */
    static final Color[] PALETTE = {new Color(0x4C, 0x78, 0xA8), new Color(0xF5, 0x85, 0x18),
        new Color(0x54, 0xA2, 0x4B), new Color(0xB2, 0x79, 0xA2), new Color(0xE4, 0x57, 0x56),
        new Color(0x72, 0xB7, 0xB2), new Color(0x9D, 0x75, 0x5D)};
    private static final Color PANVM = PALETTE[0];
    private static final Color[] PEERS = Arrays.copyOfRange(PALETTE, 1, 4);

    private BarCharts() {
    }

    /**
     * Why this machine cannot draw the charts' text, if it cannot: the JDK needs fontconfig and at
     * least one font, and fails at the first text it measures without them.
     */
    static Optional<String> fontProblem() {
        try {
            new BufferedImage(1, 1, BufferedImage.TYPE_INT_RGB).createGraphics().getFontMetrics().stringWidth("µs");
            return Optional.empty();
        } catch (RuntimeException | Error e) { // "Fontconfig head is null", "No physical fonts found"
            return Optional.of("cannot draw text for the charts (" + e.getMessage() + "); install fontconfig and "
                    + "a font, on Debian: apt-get install fontconfig fonts-dejavu-core");
        }
    }

    /** The charts {@code rows} make, in the order of their first rows. */
    static List<Chart> charts(List<Row> rows) {
        return rows.stream().map(r -> r.figure().chart()).distinct().toList();
    }

    /** Writes the {@link #charts} of {@code rows} to {@code dir} as NAME.png. */
    static void write(List<Row> rows, RunInfo run, Path dir) throws IOException {
        for (Chart c : charts(rows)) {
            DefaultStatisticalCategoryDataset data = dataset(rows.stream().filter(r -> r.figure().chart().equals(c))
                    .toList());
            int height = FRAME_PX + data.getColumnCount() * (data.getRowCount() * BAR_PX + CATEGORY_GAP_PX);
            ChartUtils.saveChartAsPNG(dir.resolve(c.name() + ".png").toFile(), chart(c, data, run), WIDTH, height);
        }
    }

    /** Series: the systems (panvm first); categories: the figures' short labels. */
    private static DefaultStatisticalCategoryDataset dataset(List<Row> rows) {
        DefaultStatisticalCategoryDataset data = new DefaultStatisticalCategoryDataset();
        for (Row r : rows) {
            add(data, r.panvm(), Figures.PANVM, r.figure().label());
        }
        for (Row r : rows) {
            if (!r.peer().isEmpty()) {
                add(data, r.peerValue(), Figures.systemName(r.peer()), r.figure().label());
            }
        }
        return data;
    }

    /**
     * A bar for {@code system}; an empty place where it has no value (which keeps panvm the first
     * series and the categories in the table's order), no whiskers where JMH gave no interval.
     */
    private static void add(DefaultStatisticalCategoryDataset data, Optional<Value> v, String system, String figure) {
        Number mean = v.map(Value::mean).orElse(null);
        Number error = v.map(Value::error).filter(e -> !e.isNaN()).orElse(null);
        data.add(mean, error, system, figure);
    }

    private static JFreeChart chart(Chart c, DefaultStatisticalCategoryDataset data, RunInfo run) {
        CategoryAxis figures = new CategoryAxis();
        figures.setMaximumCategoryLabelWidthRatio(0.3f);
        figures.setMaximumCategoryLabelLines(2);
        figures.setCategoryMargin(0.15);
        figures.setLowerMargin(0.02);
        figures.setUpperMargin(0.02);

        StatisticalBarRenderer bars = new StatisticalBarRenderer();
        bars.setBarPainter(new StandardBarPainter());
        bars.setShadowVisible(false);
        bars.setItemMargin(0.05);
        bars.setErrorIndicatorPaint(Color.DARK_GRAY);
        bars.setDefaultItemLabelGenerator(new MeanLabels());
        bars.setDefaultItemLabelsVisible(true);
        bars.setDefaultItemLabelFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        // at the bar's base, inside: the whiskers at its end stay clear
        bars.setDefaultPositiveItemLabelPosition(new ItemLabelPosition(ItemLabelAnchor.INSIDE9,
                TextAnchor.CENTER_LEFT));
        for (int i = 0; i < data.getRowCount(); i++) {
            bars.setSeriesPaint(i, data.getRowKey(i).equals(Figures.PANVM) ? PANVM : PEERS[(i - 1) % PEERS.length]);
        }

        ValueAxis values = valueAxis(c.axis(), data);
        CategoryPlot plot = new CategoryPlot(data, figures, values, bars);
        plot.setOrientation(PlotOrientation.HORIZONTAL);
        plot.setBackgroundPaint(Color.WHITE);
        plot.setRangeGridlinePaint(Color.GRAY);
        plot.setRangeMinorGridlinesVisible(values instanceof LogAxis);
        plot.setRangeMinorGridlinePaint(Color.LIGHT_GRAY);
        JFreeChart chart = new JFreeChart(c.title(), new Font(Font.SANS_SERIF, Font.BOLD, 16), plot, true);
        chart.setBackgroundPaint(Color.WHITE);
        chart.addSubtitle(0, new TextTitle(MarkdownReport.known(run.host()) + "; " + MarkdownReport.known(run.cpu())
                + ", " + run.cores() + " cores; commit " + MarkdownReport.known(run.commit()) + "; "
                + MarkdownReport.started(run), new Font(Font.SANS_SERIF, Font.PLAIN, 11)));
        chart.getLegend().setPosition(RectangleEdge.TOP);
        chart.setPadding(new RectangleInsets(4, 8, 4, 32)); // room for the last tick label
        return chart;
    }

    /** Linear from 0, or logarithmic from below the smallest mean when the means span too much. */
    private static ValueAxis valueAxis(String label, DefaultStatisticalCategoryDataset data) {
        double min = Double.POSITIVE_INFINITY;
        double max = 0;
        for (int s = 0; s < data.getRowCount(); s++) {
            for (int f = 0; f < data.getColumnCount(); f++) {
                Number mean = data.getMeanValue(s, f);
                if (mean != null) {
                    Number error = data.getStdDevValue(s, f);
                    min = Math.min(min, mean.doubleValue());
                    max = Math.max(max, mean.doubleValue() + (error == null ? 0 : error.doubleValue()));
                }
            }
        }
        if (!(min > 0) || max / min <= LOG_SPAN) {
            NumberAxis axis = new NumberAxis(label);
            axis.setNumberFormatOverride(decimal());
            return axis;
        }
        LogAxis axis = new ClampedLogAxis(label + " (log scale)");
        axis.setNumberFormatOverride(decimal());
        // a labelled tick per decade, gridlines at 2..9 times it
        axis.setTickUnit(new NumberTickUnit(1, decimal(), 9));
        axis.setRange(min / 2, max * 2);
        return axis;
    }

    private static DecimalFormat decimal() {
        return new DecimalFormat("#,##0.###", DecimalFormatSymbols.getInstance(Locale.ROOT));
    }

    /** A log axis that draws values below its range, such as a whisker's low end at or below 0, at its edge. */
    private static final class ClampedLogAxis extends LogAxis {
        private static final long serialVersionUID = 1L;

        ClampedLogAxis(String label) {
            super(label);
        }

        @Override
        public double valueToJava2D(double value, Rectangle2D area, RectangleEdge edge) {
            return super.valueToJava2D(Math.max(value, getLowerBound()), area, edge);
        }
    }

    /** Each bar's mean, written as the table writes it. */
    private static final class MeanLabels extends StandardCategoryItemLabelGenerator {
        private static final long serialVersionUID = 1L;

        @Override
        public String generateLabel(CategoryDataset dataset, int row, int column) {
            Number mean = dataset.getValue(row, column);
            return mean == null ? null : Numbers.format(mean.doubleValue(), Numbers.VALUE_DIGITS);
        }
    }
}
