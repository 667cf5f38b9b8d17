package dev.panvm.virtio.rng;

import java.util.concurrent.atomic.LongAdder;

/** What a virtio-rng device did. */
public final class RngMetrics {
    final LongAdder requests = new LongAdder();
    final LongAdder bytes = new LongAdder();
    final LongAdder malformed = new LongAdder();
    final LongAdder sourceErrors = new LongAdder();

    public record Snapshot(long requests, long bytes, long malformed, long sourceErrors) {
    }

    public Snapshot snapshot() {
        return new Snapshot(requests.sum(), bytes.sum(), malformed.sum(), sourceErrors.sum());
    }
}
