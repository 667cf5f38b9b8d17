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
    static final int OK = 0;
    static final int BAD_DATA = 1;
    static final int USAGE = 2;
    private static final String NAME = "Report";

    private Report() {
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** A usage error: status {@value #USAGE}. */
    private static final class UsageException extends Exception {
        private static final long serialVersionUID = 1L;

        UsageException(String message) {
            super(message);
        }
    }

    /** The command-line arguments. */
    private record Arguments(Path jmh, Path run, Path out, Path readme) {
        private static final List<String> OPTIONS = List.of("--jmh", "--run", "--out", "--readme");

        static Arguments parse(String[] args) throws UsageException {
            Path jmh = null;
            Path run = null;
            Path out = null;
            Path readme = null;
            for (int i = 0; i < args.length; i += 2) {
                String option = args[i];
                if (!OPTIONS.contains(option)) {
                    throw new UsageException("unknown argument " + option);
                }
                if (i + 1 == args.length) {
                    throw new UsageException(option + " needs a value");
                }
                Path value = Path.of(args[i + 1]);
                switch (option) {
                    case "--jmh" -> jmh = existing(value);
                    case "--run" -> run = existing(value);
                    case "--out" -> out = value;
                    default -> readme = existing(value);
                }
            }
            if (jmh == null || run == null || out == null) {
                throw new UsageException("--jmh, --run and --out are required");
            }
            return new Arguments(jmh, run, out, readme);
        }

        private static Path existing(Path file) throws UsageException {
            if (!Files.isRegularFile(file)) {
                throw new UsageException("no such file: " + file);
            }
            return file;
        }
    }

    /** Does what {@link #main} does; returns the exit status. */
    static int run(String[] args, PrintStream out, PrintStream err) {
        // Charts are drawn off-screen; never look for a display.
        System.setProperty("java.awt.headless", "true");
        try {
            Arguments a = Arguments.parse(args);
            List<Row> rows = Rows.of(JmhResults.read(a.jmh()), w -> err.println(NAME + ": warning: " + w));
            RunInfo info = runInfo(a.run());
            List<Chart> charts = BarCharts.charts(rows);
            Path chartDir = a.out().resolve("charts");
            // The README is checked before anything is written: one without its markers stops the run.
            String readme = null;
            if (a.readme() != null) {
                String linkDir = linkPath(a.readme().toAbsolutePath().getParent(), chartDir.toAbsolutePath());
                readme = ReadmeSplice.splice(a.readme().toString(), Files.readString(a.readme()),
                        MarkdownReport.render(info, rows, charts, linkDir, 3));
            }
            Optional<String> noFonts = BarCharts.fontProblem();
            if (noFonts.isPresent()) {
                err.println(NAME + ": " + noFonts.get());
                return BAD_DATA;
            }
            Files.createDirectories(chartDir);
            BarCharts.write(rows, info, chartDir);
            Files.writeString(a.out().resolve("latest.md"), "# panvm benchmarks\n\n"
                    + MarkdownReport.render(info, rows, charts, "charts/", 2));
            if (readme != null) {
                Files.writeString(a.readme(), readme);
            }
            out.printf("%s: %d rows, %d charts -> %s%s%n", NAME, rows.size(), charts.size(),
                    a.out().resolve("latest.md"), readme == null ? "" : " and " + a.readme());
            return OK;
        } catch (UsageException e) {
            err.println(NAME + ": " + e.getMessage());
            err.println("usage: " + NAME + " --jmh STAMP.jmh.json --run STAMP.run.json --out DIR [--readme README.md]");
            return USAGE;
        } catch (BadDataException e) {
            err.println(NAME + ": " + e.getMessage());
            return BAD_DATA;
        } catch (IOException e) {
            err.println(NAME + ": cannot read or write a file: " + e); // the exception's class says what failed
            return BAD_DATA;
        }
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

    /** {@code dir} relative to {@code from}, with {@code /} and a trailing {@code /}, for Markdown links. */
    private static String linkPath(Path from, Path dir) {
        return from.relativize(dir).toString().replace('\\', '/') + "/";
    }
}
