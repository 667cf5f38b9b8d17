package dev.panvm.virtio.mock;

import dev.panvm.virtio.mmio.InterruptSink;

import java.util.concurrent.atomic.AtomicInteger;

/** An interrupt sink that counts what the transport raised. */
public final class RecordingInterrupts implements InterruptSink {
    private final AtomicInteger count = new AtomicInteger();
    private final AtomicInteger lastStatus = new AtomicInteger();

    @Override
    public void raise(int interruptStatusBits) {
        count.incrementAndGet();
        lastStatus.set(interruptStatusBits);
    }

    public int count() {
        return count.get();
    }

    public int lastStatus() {
        return lastStatus.get();
    }

    /** Returns the count and starts again at 0. */
    public int take() {
        return count.getAndSet(0);
    }
}
