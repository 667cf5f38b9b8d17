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
        super(field + ": " + problem, null, false, false);
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
}
