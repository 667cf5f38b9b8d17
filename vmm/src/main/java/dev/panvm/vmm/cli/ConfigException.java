package dev.panvm.vmm.cli;

/**
 * A bad value in {@code panvm run}'s configuration (a flag or a field of the {@code --config}
 * file): one line naming the field and the problem, and the exit status it ends the run with.
 */
final class ConfigException extends Exception {
    /** Bad usage: syntax, unknown field, wrong type, bad name or address, duplicate id. */
    static final int USAGE = 2;

    private final String field;
    private final String problem;
    private final int exitStatus;

    ConfigException(String field, String problem, int exitStatus) {
        super(printable(field) + ": " + printable(problem), null, false, false);
        this.field = field;
        this.problem = problem;
        this.exitStatus = exitStatus;
    }

    static ConfigException usage(String field, String problem) {
        return new ConfigException(field, problem, USAGE);
    }

    /** A value the VMM cannot build a VM from (out of range, missing file): exit 125, as before. */
    static ConfigException invalid(String field, String problem) {
        return new ConfigException(field, problem, RunCommand.EXIT_VMM_ERROR);
    }

    /** The same problem, its field prefixed with {@code where} (e.g. the config file's name). */
    ConfigException in(String where) {
        return new ConfigException(where + ": " + field, problem, exitStatus);
    }

    int exitStatus() {
        return exitStatus;
    }

    /**
     * {@code s} with its control characters (line breaks, escape, NUL, ...) written as escapes:
     * backslash-n, -r, -t, or backslash-u and four hex digits. Field names, values and the JSON
     * parser's messages come from the config file or the command line; escaped, an error stays
     * one line (vmm/CONFIG.md) that cannot move the terminal's cursor, whatever they hold.
     */
    static String printable(String s) {
        StringBuilder sb = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            String escape = switch (c) {
                case '\n' -> "\\n";
                case '\r' -> "\\r";
                case '\t' -> "\\t";
                default -> Character.isISOControl(c) || c == '\u2028' || c == '\u2029'
                        ? String.format("\\u%04X", (int) c) : null;
            };
            if (escape != null && sb == null) {
                sb = new StringBuilder(s.length() + 8).append(s, 0, i);
            }
            if (sb != null) {
                if (escape != null) {
                    sb.append(escape);
                } else {
                    sb.append(c);
                }
            }
        }
        return sb == null ? s : sb.toString();
    }
}
