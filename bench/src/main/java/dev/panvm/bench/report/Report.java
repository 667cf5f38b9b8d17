package dev.panvm.bench.report;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.panvm.bench.RunInfo;
import dev.panvm.bench.report.Figure.Chart;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * Renders one benchmark run: JMH's JSON results and the run's {@link RunInfo} become
 * OUT/latest.md (a table per area) and OUT/charts/NAME.png, and with {@code --readme} the same
 * table replaces the README's section between {@value ReadmeSplice#START} and
 * {@value ReadmeSplice#END}.
 *
 * <pre>
 *   Report --jmh STAMP.jmh.json --run STAMP.run.json --out bench/results [--readme README.md]
 * </pre>
 * Exit status 0; 2 for a usage error (unknown or missing argument, a named file that does not
 * exist); 1 when an input is not what a run writes, a README lacks its markers or the JDK finds
 * no fonts to draw with (Debian: fontconfig, fonts-dejavu-core), in which cases nothing is written.
 */
public final class Report {
    private static final String NAME = "Report";

    private Report() {
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Does what {@link #main} does; returns the exit status. */
    static int run(String[] args, PrintStream out, PrintStream err) {
        return ReportCommand.run(NAME, "--jmh STAMP.jmh.json --run STAMP.run.json --out DIR [--readme README.md]", args,
                List.of("--jmh", "--run", "--out", "--readme"), List.of("--jmh", "--run", "--out"),
                List.of("--jmh", "--run", "--readme"), err, a -> {
            List<Row> rows = Rows.of(JmhResults.read(a.get("--jmh")), w -> err.println(NAME + ": warning: " + w));
            RunInfo info = runInfo(a.get("--run"));
            List<Chart> charts = BarCharts.charts(rows);
            Path outDir = a.get("--out");
            Path readmeFile = a.get("--readme");
            Path chartDir = outDir.resolve("charts");
            // The README is checked before anything is written: one without its markers stops the run.
            String readme = null;
            if (readmeFile != null) {
                String linkDir = ReportCommand.linkPath(readmeFile.toAbsolutePath().getParent(), chartDir.toAbsolutePath());
                readme = ReadmeSplice.splice(readmeFile.toString(), Files.readString(readmeFile),
                        MarkdownReport.render(info, rows, charts, linkDir, 3));
            }
            Optional<Integer> noFonts = ReportCommand.noFonts(NAME, err);
            if (noFonts.isPresent()) {
                return noFonts.get();
            }
            Files.createDirectories(chartDir);
            BarCharts.write(rows, info, chartDir);
            Files.writeString(outDir.resolve("latest.md"), "# panvm benchmarks\n\n"
                    + MarkdownReport.render(info, rows, charts, "charts/", 2));
            if (readme != null) {
                Files.writeString(readmeFile, readme);
            }
            out.printf("%s: %d rows, %d charts -> %s%s%n", NAME, rows.size(), charts.size(),
                    outDir.resolve("latest.md"), readme == null ? "" : " and " + readmeFile);
            return ReportCommand.OK;
        });
    }

    private static RunInfo runInfo(Path file) throws BadDataException {
        try {
            return JsonMapper.builder().disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES).build()
                    .readValue(file.toFile(), RunInfo.class);
        } catch (JacksonException e) {
            throw new BadDataException(file + ": not a run description (RunInfo): " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new BadDataException(file + ": " + e.getMessage());
        }
    }
}
