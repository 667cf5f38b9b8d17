package dev.panvm.bench;

import java.io.IOException;

/**
 * A ferrite guest running in {@code bench=pio} mode on some VMM, driven over its serial line:
 * the host sends {@code g}, the guest performs one batch of port-I/O exits and answers {@code k};
 * {@code q} ends the guest. The same protocol on every VMM keeps the comparison fair.
 */
interface GuestUnderTest extends AutoCloseable {
    /** Line the guest prints once it is ready for commands. */
    String READY = "bench pio ready";

    /** Runs one batch: sends {@code g} and waits for {@code k}. */
    void batch() throws IOException;

    /** Sends {@code q} and waits for the VMM to end; returns the guest's exit status as its VMM reports it. */
    int quit() throws IOException, InterruptedException;

    @Override
    void close();
}
