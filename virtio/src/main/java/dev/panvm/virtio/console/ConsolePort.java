package dev.panvm.virtio.console;

import java.io.IOException;
import java.lang.foreign.MemorySegment;

/**
 * The host side of a console port (virtio 1.2, 5.3): a byte stream each way, no framing. The
 * vmm connects it to a Unix socket, to its own standard input and output, or to a Java program
 * in the same process; tests use an in-memory one.
 *
 * <p>Input (host to guest) is never lost: {@link #read} hands out only what the device can put
 * into the receive buffers the driver posted, and the rest waits in the port. Output (guest to
 * host) is never dropped by the device: {@link #write} may block until the host side takes it,
 * which holds the guest's transmit queue back (flow control, as on a serial line).
 */
public interface ConsolePort {

    /**
     * Copies host input that is waiting now into {@code dst} and returns how many bytes it
     * copied: at most {@code dst.byteSize()}, 0 when nothing waits. Never blocks.
     */
    int read(MemorySegment dst) throws IOException;

    /** Sends all of {@code src}, the guest's output, to the host side; may block (flow control). */
    void write(MemorySegment src) throws IOException;
}
