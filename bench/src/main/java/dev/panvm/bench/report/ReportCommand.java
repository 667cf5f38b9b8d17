package dev.panvm.bench.report;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What the report commands ({@link Report}, {@link CacheMatrixReport}) share: {@code --option
 * PATH} arguments, headless drawing, the exit statuses and their messages, the font check that
 * must pass before anything is written, and Markdown link paths.
 */
final class ReportCommand {
    static final int OK = 0;
    static final int BAD_DATA = 1;
    static final int USAGE = 2;

    private ReportCommand() {
    }

    /** A usage error: status {@value #USAGE}. */
    static final class UsageException extends Exception {
        private static final long serialVersionUID = 1L;

        UsageException(String message) {
            super(message);
        }
    }

    /** A command's work, given its parsed arguments; returns the exit status. */
    interface Body {
        int run(Map<String, Path> args) throws UsageException, BadDataException, IOException;
    }

    /**
     * Parses {@code args} as {@code --option PATH} pairs among {@code options}, requiring
     * {@code required} and that every option in {@code files} names an existing file, then runs
     * {@code body}; a usage error prints {@code usage}, bad data or an I/O error its message.
     */
    static int run(String name, String usage, String[] args, List<String> options, List<String> required,
                   List<String> files, PrintStream err, Body body) {
        // Charts are drawn off-screen; never look for a display.
        System.setProperty("java.awt.headless", "true");
        try {
            return body.run(parse(args, options, required, files));
        } catch (UsageException e) {
            err.println(name + ": " + e.getMessage());
            err.println("usage: " + name + " " + usage);
            return USAGE;
        } catch (BadDataException e) {
            err.println(name + ": " + e.getMessage());
            return BAD_DATA;
        } catch (IOException e) {
            err.println(name + ": cannot read or write a file: " + e); // the exception's class says what failed
            return BAD_DATA;
        }
    }

    private static Map<String, Path> parse(String[] args, List<String> options, List<String> required,
                                           List<String> files) throws UsageException {
        Map<String, Path> values = new HashMap<>();
        for (int i = 0; i < args.length; i += 2) {
            String option = args[i];
            if (!options.contains(option)) {
                throw new UsageException("unknown argument " + option);
            }
            if (i + 1 == args.length) {
                throw new UsageException(option + " needs a value");
            }
            Path value = Path.of(args[i + 1]);
            if (files.contains(option) && !Files.isRegularFile(value)) {
                throw new UsageException("no such file: " + value);
            }
            values.put(option, value);
        }
        if (!values.keySet().containsAll(required)) {
            throw new UsageException(String.join(", ", required.subList(0, required.size() - 1))
                    + (required.size() > 1 ? " and " : "") + required.getLast() + " are required");
        }
        return values;
    }

    /** Status {@value #BAD_DATA} with the reason when the JDK has no fonts to draw charts with. */
    static Optional<Integer> noFonts(String name, PrintStream err) {
        Optional<String> problem = BarCharts.fontProblem();
        problem.ifPresent(p -> err.println(name + ": " + p));
        return problem.map(p -> BAD_DATA);
    }

    /** {@code dir} relative to {@code from}, with {@code /} and a trailing {@code /}, for Markdown links. */
    static String linkPath(Path from, Path dir) {
        return from.relativize(dir).toString().replace('\\', '/') + "/";
    }
}
