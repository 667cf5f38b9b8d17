package dev.panvm.virtio.blk;

import java.util.concurrent.atomic.LongAdder;

/** What a virtio-blk device did, for benchmarks and tests; counters only, never read on the data path. */
public final class BlockMetrics {
    final LongAdder reads = new LongAdder();
    final LongAdder readBytes = new LongAdder();
    final LongAdder writes = new LongAdder();
    final LongAdder writeBytes = new LongAdder();
    final LongAdder flushes = new LongAdder();
    final LongAdder getIds = new LongAdder();
    final LongAdder discards = new LongAdder();
    final LongAdder writeZeroes = new LongAdder();
    final LongAdder unsupported = new LongAdder();
    final LongAdder malformed = new LongAdder();
    final LongAdder readOnlyRefusals = new LongAdder();
    final LongAdder backendErrors = new LongAdder();
    final LongAdder unanswerable = new LongAdder();

    /** A point-in-time copy of the counters. */
    public record Snapshot(long reads, long readBytes, long writes, long writeBytes, long flushes, long getIds,
                           long discards, long writeZeroes, long unsupported, long malformed,
                           long readOnlyRefusals, long backendErrors, long unanswerable) {
    }

    public Snapshot snapshot() {
        return new Snapshot(reads.sum(), readBytes.sum(), writes.sum(), writeBytes.sum(), flushes.sum(),
                getIds.sum(), discards.sum(), writeZeroes.sum(), unsupported.sum(), malformed.sum(),
                readOnlyRefusals.sum(), backendErrors.sum(), unanswerable.sum());
    }
}
