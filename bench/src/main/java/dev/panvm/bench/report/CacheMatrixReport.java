package dev.panvm.bench.report;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * Renders the page-cache matrix ({@code scripts/cachesim --matrix --json}): OUT/matrix.md (the
 * summary and a table per cache size) and OUT/*.png ({@link CacheMatrixCharts}), and with
 * {@code --readme} the summary replaces the README's section between {@value #START} and
 * {@value #END}.
 *
 * <pre>
 *   CacheMatrixReport --matrix matrix.json --out bench/results/cache-matrix [--readme README.md]
 * </pre>
 * Exit status 0; 2 for a usage error (unknown or missing argument, a named file that does not
 * exist); 1 when the matrix is not what cachesim writes, the README lacks its markers or the JDK
 * finds no fonts to draw with, in which cases nothing is written.
 */
public final class CacheMatrixReport {
    public static final String START = "<!-- cache-matrix -->";
    public static final String END = "<!-- /cache-matrix -->";
    static final String MARKDOWN = "matrix.md";
    private static final String NAME = "CacheMatrixReport";

    private CacheMatrixReport() {
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** A usage error: status {@value Report#USAGE}. */
    private static final class UsageException extends Exception {
        private static final long serialVersionUID = 1L;

        UsageException(String message) {
            super(message);
        }
    }

    /** The command-line arguments. */
    private record Arguments(Path matrix, Path out, Path readme) {
        private static final List<String> OPTIONS = List.of("--matrix", "--out", "--readme");

        static Arguments parse(String[] args) throws UsageException {
            Path matrix = null;
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
                    case "--matrix" -> matrix = existing(value);
                    case "--out" -> out = value;
                    default -> readme = existing(value);
                }
            }
            if (matrix == null || out == null) {
                throw new UsageException("--matrix and --out are required");
            }
            return new Arguments(matrix, out, readme);
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
            CacheMatrix m = CacheMatrix.read(a.matrix());
            // The README is checked before anything is written: one without its markers stops the run.
            String readme = null;
            if (a.readme() != null) {
                Path from = a.readme().toAbsolutePath().getParent();
                String linkDir = from.relativize(a.out().toAbsolutePath()).toString().replace('\\', '/') + "/";
                readme = ReadmeSplice.splice(a.readme().toString(), Files.readString(a.readme()),
                        CacheMatrixMarkdown.summary(m, linkDir, linkDir + MARKDOWN), START, END);
            }
            Optional<String> noFonts = BarCharts.fontProblem();
            if (noFonts.isPresent()) {
                err.println(NAME + ": " + noFonts.get());
                return Report.BAD_DATA;
            }
            Files.createDirectories(a.out());
            CacheMatrixCharts.write(m, a.out());
            Files.writeString(a.out().resolve(MARKDOWN), CacheMatrixMarkdown.render(m));
            if (readme != null) {
                Files.writeString(a.readme(), readme);
            }
            out.printf("%s: %d rows, %d charts -> %s%s%n", NAME, m.rows().size(), CacheMatrixCharts.files(m).size(),
                    a.out().resolve(MARKDOWN), readme == null ? "" : " and " + a.readme());
            return Report.OK;
        } catch (UsageException e) {
            err.println(NAME + ": " + e.getMessage());
            err.println("usage: " + NAME + " --matrix matrix.json --out DIR [--readme README.md]");
            return Report.USAGE;
        } catch (BadDataException e) {
            err.println(NAME + ": " + e.getMessage());
            return Report.BAD_DATA;
        } catch (IOException e) {
            err.println(NAME + ": cannot read or write a file: " + e); // the exception's class says what failed
            return Report.BAD_DATA;
        }
    }
}
