package dev.panvm.bench.report;

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

    /** Does what {@link #main} does; returns the exit status. */
    static int run(String[] args, PrintStream out, PrintStream err) {
        return ReportCommand.run(NAME, "--matrix matrix.json --out DIR [--readme README.md]", args,
                List.of("--matrix", "--out", "--readme"), List.of("--matrix", "--out"), List.of("--matrix", "--readme"),
                err, a -> {
            CacheMatrix m = CacheMatrix.read(a.get("--matrix"));
            Path outDir = a.get("--out");
            Path readmeFile = a.get("--readme");
            // The README is checked before anything is written: one without its markers stops the run.
            String readme = null;
            if (readmeFile != null) {
                String linkDir = ReportCommand.linkPath(readmeFile.toAbsolutePath().getParent(), outDir.toAbsolutePath());
                readme = ReadmeSplice.splice(readmeFile.toString(), Files.readString(readmeFile),
                        CacheMatrixMarkdown.summary(m, linkDir, linkDir + MARKDOWN), START, END);
            }
            Optional<Integer> noFonts = ReportCommand.noFonts(NAME, err);
            if (noFonts.isPresent()) {
                return noFonts.get();
            }
            Files.createDirectories(outDir);
            CacheMatrixCharts.write(m, outDir);
            Files.writeString(outDir.resolve(MARKDOWN), CacheMatrixMarkdown.render(m));
            if (readme != null) {
                Files.writeString(readmeFile, readme);
            }
            out.printf("%s: %d rows, %d charts -> %s%s%n", NAME, m.rows().size(), CacheMatrixCharts.files(m).size(),
                    outDir.resolve(MARKDOWN), readme == null ? "" : " and " + readmeFile);
            return ReportCommand.OK;
        });
    }
}
