package dev.panvm.bench.report;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BarChartsTest {
    @TempDir
    Path dir;

    @Test
    void oneReadablePngPerAreaAndPerUnitOfTheVmmArea() throws Exception {
        RenderedReport report = RenderedReport.of(RenderedReport.JMH, dir);
        assertEquals(ReportCommand.OK, report.status(), report.err());
        Set<String> files;
        try (Stream<Path> charts = Files.list(dir.resolve("charts"))) {
            files = charts.map(p -> p.getFileName().toString()).collect(Collectors.toSet());
        }
        assertEquals(Set.of("vmm-exits.png", "vmm-startup.png", "vmm-memory.png", "scheduler.png", "allocator.png",
                "block.png", "page-cache.png"), files);
        String md = report.markdown();
        for (String file : files) {
            BufferedImage png = ImageIO.read(dir.resolve("charts").resolve(file).toFile());
            assertNotNull(png, file + " is not an image ImageIO reads");
            assertTrue(png.getWidth() >= 800 && png.getHeight() >= 200, file + ": " + png.getWidth() + "x"
                    + png.getHeight());
            assertTrue(md.contains("](charts/" + file + ")"), "latest.md links " + file);
        }
    }

    @Test
    void everyFigureIsDrawnInOneChartNamedForItsArea() throws Exception {
        List<Row> rows = Rows.of(JmhResults.read(RenderedReport.JMH), w -> { });
        for (Row r : rows) {
            String area = r.figure().area().toLowerCase(Locale.ROOT).replace(' ', '-');
            assertTrue(r.figure().chart().name().startsWith(area), r.figure().text() + " in "
                    + r.figure().chart().name());
        }
        assertEquals(7, BarCharts.charts(rows).size());
    }
}
