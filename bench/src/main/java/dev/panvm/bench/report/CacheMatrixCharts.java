package dev.panvm.bench.report;

import dev.panvm.bench.report.CacheMatrix.Entry;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.CategoryAxis;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.labels.ItemLabelAnchor;
import org.jfree.chart.labels.ItemLabelPosition;
import org.jfree.chart.labels.StandardCategoryItemLabelGenerator;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.ValueMarker;
import org.jfree.chart.renderer.category.BarRenderer;
import org.jfree.chart.renderer.category.StandardBarPainter;
import org.jfree.chart.title.TextTitle;
import org.jfree.chart.ui.Layer;
import org.jfree.chart.ui.RectangleAnchor;
import org.jfree.chart.ui.RectangleEdge;
import org.jfree.chart.ui.RectangleInsets;
import org.jfree.chart.ui.TextAnchor;
import org.jfree.data.category.CategoryDataset;
import org.jfree.data.category.DefaultCategoryDataset;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.io.IOException;
import java.nio.file.Path;
import java.text.DecimalFormat;
import java.text.DecimalFormatSymbols;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The page-cache matrix's PNG charts. Per cache size ({@link #requestsFile}): a group of
 * horizontal bars per workload, one per policy, each its device requests divided by LRU's on
 * the same row, drawn from LRU's line at 1 (left: fewer requests than LRU, better). And
 * {@value #WINS_FILE}: per policy, the rows where it needs at most each baseline's device
 * requests, exactly and within the tolerance, and the rows where it needs the fewest of all.
 */
public final class CacheMatrixCharts {
    static final String WINS_FILE = "wins.png";
    static final int WIDTH = 1200;
    private static final int BAR_PX = 9;
    private static final int WINS_BAR_PX = 16;
    private static final int CATEGORY_GAP_PX = 12;
    /** Title, subtitles, legend and value axis. */
    private static final int FRAME_PX = 190;
    private static final int MIN_HEIGHT = 400;
    private static final Color MANAGER = BarCharts.PALETTE[0];
    private static final Color[] OTHERS = Arrays.copyOfRange(BarCharts.PALETTE, 1, BarCharts.PALETTE.length);
    /** Per baseline: exactly, within the tolerance (a lighter shade of the same colour). */
    private static final Color[][] BASELINE_PAIRS = {
        {BarCharts.PALETTE[0], new Color(0x9E, 0xCA, 0xE9)},
        {BarCharts.PALETTE[1], new Color(0xFF, 0xBF, 0x79)}};
    private static final Color FEWEST = BarCharts.PALETTE[2];
    private static final Font TITLE = new Font(Font.SANS_SERIF, Font.BOLD, 18);
    private static final Font SMALL = new Font(Font.SANS_SERIF, Font.PLAIN, 12);
    private static final Font LABELS = new Font(Font.SANS_SERIF, Font.PLAIN, 13);

    private CacheMatrixCharts() {
    }

    /** The chart of one cache size. */
    static String requestsFile(int size) {
        return "device-requests-" + size + ".png";
    }

    /** Every chart's file name, in the order {@link #write} writes them. */
    static List<String> files(CacheMatrix m) {
        List<String> files = new ArrayList<>(m.sizes().stream().map(CacheMatrixCharts::requestsFile).toList());
        files.add(WINS_FILE);
        return files;
    }

    /** Writes the {@link #files} to {@code dir}. */
    static void write(CacheMatrix m, Path dir) throws IOException {
        for (int size : m.sizes()) {
            List<Entry> rows = m.rowsAt(size);
            if (rows.isEmpty()) {
                continue;
            }
            DefaultCategoryDataset data = relativeToLru(m, rows);
            int height = Math.max(MIN_HEIGHT, FRAME_PX + data.getColumnCount() * (data.getRowCount() * BAR_PX
                    + CATEGORY_GAP_PX));
            ChartUtils.saveChartAsPNG(dir.resolve(requestsFile(size)).toFile(), requestsChart(m, size, data), WIDTH,
                    height);
        }
        DefaultCategoryDataset wins = wins(m);
        int height = Math.max(MIN_HEIGHT, FRAME_PX + wins.getColumnCount() * (wins.getRowCount() * WINS_BAR_PX
                + CATEGORY_GAP_PX * 2));
        ChartUtils.saveChartAsPNG(dir.resolve(WINS_FILE).toFile(), winsChart(m, wins), WIDTH, height);
    }

    /** Series: the policies but LRU, the one under evaluation first; categories: the workloads. */
    private static DefaultCategoryDataset relativeToLru(CacheMatrix m, List<Entry> rows) {
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        for (String p : byManagerFirst(m)) {
            for (Entry r : rows) {
                long lru = r.requests(CacheMatrix.LRU);
                long ours = r.requests(p);
                Double ratio = lru > 0 ? (Double) ((double) ours / lru) : ours == 0 ? (Double) 1.0 : null;
                data.addValue(ratio, p, r.workload());
            }
        }
        return data;
    }

    private static List<String> byManagerFirst(CacheMatrix m) {
        List<String> policies = new ArrayList<>();
        if (!m.manager().equals(CacheMatrix.LRU)) {
            policies.add(m.manager());
        }
        m.policies().stream().filter(p -> !p.equals(CacheMatrix.LRU) && !p.equals(m.manager()))
                .forEach(policies::add);
        return policies;
    }

    private static JFreeChart requestsChart(CacheMatrix m, int size, DefaultCategoryDataset data) {
        BarRenderer bars = renderer();
        bars.setBase(1.0); // bars grow from LRU's line, left for fewer requests
        bars.setIncludeBaseInRange(true);
        for (int i = 0; i < data.getRowCount(); i++) {
            bars.setSeriesPaint(i, data.getRowKey(i).equals(m.manager()) ? MANAGER : OTHERS[(i - 1 + OTHERS.length)
                    % OTHERS.length]);
        }
        NumberAxis values = new NumberAxis("device requests / LRU's device requests (lower is better)");
        values.setAutoRangeIncludesZero(false);
        values.setNumberFormatOverride(decimal("0.00"));
        values.setLabelFont(LABELS);
        values.setTickLabelFont(SMALL);
        CategoryPlot plot = plot(data, bars, values);
        ValueMarker lru = new ValueMarker(1.0, Color.BLACK, new BasicStroke(1.5f));
        lru.setLabel("LRU = 1");
        lru.setLabelFont(SMALL);
        lru.setLabelAnchor(RectangleAnchor.TOP_RIGHT);
        lru.setLabelTextAnchor(TextAnchor.TOP_LEFT);
        plot.addRangeMarker(lru, Layer.FOREGROUND);
        return chart("Device requests relative to LRU, cache of " + CacheMatrixMarkdown.count(size) + " pages",
                "cachesim --matrix: each workload replayed through each policy, read-ahead of at most "
                        + m.readahead() + " pages; a bar left of the line: fewer device requests than LRU on that "
                        + "workload", plot);
    }

    /** Series: per baseline, exactly and within the tolerance; then the rows with the fewest. Categories: the policies. */
    private static DefaultCategoryDataset wins(CacheMatrix m) {
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        String tol = m.tolerancePct().stripTrailingZeros().toPlainString();
        for (String b : m.baselines()) {
            String name = CacheMatrixMarkdown.name(b);
            for (String p : m.policies()) {
                data.addValue(p.equals(b) ? null : (Integer) m.strictWins(p, b), "≤ " + name, p);
            }
            for (String p : m.policies()) {
                data.addValue(p.equals(b) ? null : (Integer) m.toleranceWins(p, b), "≤ " + name + " + " + tol + " %",
                        p);
            }
        }
        for (String p : m.policies()) {
            data.addValue(m.bestRows(p), "fewest of all", p);
        }
        return data;
    }

    private static JFreeChart winsChart(CacheMatrix m, DefaultCategoryDataset data) {
        BarRenderer bars = renderer();
        for (int b = 0; b < m.baselines().size(); b++) {
            Color[] pair = BASELINE_PAIRS[b % BASELINE_PAIRS.length];
            bars.setSeriesPaint(2 * b, pair[0]);
            bars.setSeriesPaint(2 * b + 1, pair[1]);
        }
        bars.setSeriesPaint(2 * m.baselines().size(), FEWEST);
        bars.setDefaultItemLabelGenerator(new StandardCategoryItemLabelGenerator("{2}", decimal("0")));
        bars.setDefaultItemLabelsVisible(true);
        bars.setDefaultItemLabelFont(SMALL);
        bars.setDefaultPositiveItemLabelPosition(new ItemLabelPosition(ItemLabelAnchor.OUTSIDE3,
                TextAnchor.CENTER_LEFT));
        int n = m.rows().size();
        NumberAxis values = new NumberAxis("rows (of " + n + ")");
        values.setRange(0, n * 1.1);
        values.setStandardTickUnits(NumberAxis.createIntegerTickUnits());
        values.setLabelFont(LABELS);
        values.setTickLabelFont(SMALL);
        CategoryPlot plot = plot(data, bars, values);
        plot.addRangeMarker(marker(n, "every row"), Layer.FOREGROUND);
        if (m.rivals().equals(CacheMatrix.BASELINES)) {
            plot.addRangeMarker(marker(CacheMatrixMarkdown.arcTarget(n), "two thirds"), Layer.FOREGROUND);
        }
        String tol = m.tolerancePct().stripTrailingZeros().toPlainString();
        return chart("Rows where each policy is at least as good as "
                + String.join(" and ", m.baselines().stream().map(CacheMatrixMarkdown::name).toList()),
                "≤ X: at most X's device requests on the row; ≤ X + " + tol + " %: at most " + tol + " % more; fewest: "
                        + "no policy needs fewer. " + m.manager() + "'s target: every row against LRU, two thirds "
                        + "against ARC", plot);
    }

    private static ValueMarker marker(double at, String label) {
        ValueMarker marker = new ValueMarker(at, Color.DARK_GRAY, new BasicStroke(1f, BasicStroke.CAP_BUTT,
                BasicStroke.JOIN_MITER, 10f, new float[] {6f, 4f}, 0f));
        marker.setLabel(label);
        marker.setLabelFont(SMALL);
        marker.setLabelAnchor(RectangleAnchor.BOTTOM_RIGHT);
        marker.setLabelTextAnchor(TextAnchor.BOTTOM_LEFT);
        return marker;
    }

    private static BarRenderer renderer() {
        BarRenderer bars = new BarRenderer();
        bars.setBarPainter(new StandardBarPainter());
        bars.setShadowVisible(false);
        bars.setItemMargin(0.04);
        bars.setDrawBarOutline(false);
        return bars;
    }

    private static CategoryPlot plot(CategoryDataset data, BarRenderer bars, NumberAxis values) {
        CategoryAxis categories = new CategoryAxis();
        categories.setMaximumCategoryLabelWidthRatio(0.3f);
        categories.setMaximumCategoryLabelLines(2);
        categories.setCategoryMargin(0.15);
        categories.setLowerMargin(0.01);
        categories.setUpperMargin(0.01);
        categories.setTickLabelFont(LABELS);
        CategoryPlot plot = new CategoryPlot(data, categories, values, bars);
        plot.setOrientation(PlotOrientation.HORIZONTAL);
        plot.setBackgroundPaint(Color.WHITE);
        plot.setRangeGridlinePaint(Color.GRAY);
        plot.setDomainGridlinesVisible(false);
        return plot;
    }

    private static JFreeChart chart(String title, String subtitle, CategoryPlot plot) {
        JFreeChart chart = new JFreeChart(title, TITLE, plot, true);
        chart.setBackgroundPaint(Color.WHITE);
        chart.addSubtitle(0, new TextTitle(subtitle, SMALL));
        chart.getLegend().setPosition(RectangleEdge.TOP);
        chart.getLegend().setItemFont(LABELS);
        chart.setPadding(new RectangleInsets(4, 8, 4, 32)); // room for the last tick label
        return chart;
    }

    private static DecimalFormat decimal(String pattern) {
        return new DecimalFormat(pattern, DecimalFormatSymbols.getInstance(Locale.ROOT));
    }
}
