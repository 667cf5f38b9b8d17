package dev.panvm.virtio.console;

import java.util.concurrent.atomic.LongAdder;

/** What a virtio-console device did, for benchmarks and tests. */
public final class ConsoleMetrics {
    final LongAdder rxChains = new LongAdder();
    final LongAdder rxBytes = new LongAdder();
    final LongAdder txChains = new LongAdder();
    final LongAdder txBytes = new LongAdder();
    final LongAdder malformedChains = new LongAdder();
    final LongAdder portReadErrors = new LongAdder();
    final LongAdder portWriteErrors = new LongAdder();
    final LongAdder emergencyWrites = new LongAdder();

    /**
     * The counters at one moment: receiveq chains returned with input and the bytes in them,
     * transmitq chains and the bytes sent to the port, chains returned unused because of their
     * buffer directions, failed port reads and writes, and bytes written through emerg_wr.
     */
    public record Snapshot(long rxChains, long rxBytes, long txChains, long txBytes, long malformedChains,
                           long portReadErrors, long portWriteErrors, long emergencyWrites) {
    }

    public Snapshot snapshot() {
        return new Snapshot(rxChains.sum(), rxBytes.sum(), txChains.sum(), txBytes.sum(), malformedChains.sum(),
                portReadErrors.sum(), portWriteErrors.sum(), emergencyWrites.sum());
    }
}
