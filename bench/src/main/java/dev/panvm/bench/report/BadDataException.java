package dev.panvm.bench.report;

/** The report's input is not what a benchmark run writes (or the README lacks its markers); exit status 1. */
public final class BadDataException extends Exception {
    private static final long serialVersionUID = 1L;

    public BadDataException(String message) {
        super(message);
    }
}
