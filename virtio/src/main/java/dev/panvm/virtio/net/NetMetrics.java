package dev.panvm.virtio.net;

import java.util.concurrent.atomic.LongAdder;

/** What a virtio-net device did, for benchmarks and tests. */
public final class NetMetrics {
    final LongAdder txFrames = new LongAdder();
    final LongAdder txBytes = new LongAdder();
    final LongAdder txDropped = new LongAdder();
    /** Of {@link #txDropped}: frames over {@link VirtioNet#MAX_TX_FRAME}. */
    final LongAdder txDroppedTooBig = new LongAdder();
    final LongAdder txErrors = new LongAdder();
    final LongAdder rxFrames = new LongAdder();
    final LongAdder rxBytes = new LongAdder();
    final LongAdder rxDroppedNoBuffer = new LongAdder();
    final LongAdder rxDroppedTooBig = new LongAdder();
    final LongAdder rxErrors = new LongAdder();
    final LongAdder malformedChains = new LongAdder();

    public record Snapshot(long txFrames, long txBytes, long txDropped, long txErrors,
                           long rxFrames, long rxBytes, long rxDroppedNoBuffer, long rxDroppedTooBig,
                           long rxErrors, long malformedChains, long txDroppedTooBig) {
    }

    public Snapshot snapshot() {
        return new Snapshot(txFrames.sum(), txBytes.sum(), txDropped.sum(), txErrors.sum(),
                rxFrames.sum(), rxBytes.sum(), rxDroppedNoBuffer.sum(), rxDroppedTooBig.sum(),
                rxErrors.sum(), malformedChains.sum(), txDroppedTooBig.sum());
    }
}
