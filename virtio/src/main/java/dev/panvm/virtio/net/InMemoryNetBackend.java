package dev.panvm.virtio.net;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * A network backend in plain memory, for tests and tools: frames {@link #inject injected} are
 * what the guest receives, frames the guest sends are kept for {@link #takeSent}. A loopback
 * backend instead hands every sent frame back to the guest. Copies frames into arrays: a test
 * fixture, not a data path.
 */
public final class InMemoryNetBackend implements NetBackend {
    private final boolean loopback;
    private final Deque<byte[]> toGuest = new ArrayDeque<>();
    private final List<byte[]> sent = new ArrayList<>();

    private InMemoryNetBackend(boolean loopback) {
        this.loopback = loopback;
    }

    /** A backend that keeps what the guest sends. */
    public static InMemoryNetBackend create() {
        return new InMemoryNetBackend(false);
    }

    /** A backend that returns every frame the guest sends to the guest. */
    public static InMemoryNetBackend loopback() {
        return new InMemoryNetBackend(true);
    }

    /** Queues a frame for the guest to receive. */
    public synchronized void inject(byte[] frame) {
        toGuest.add(frame.clone());
    }

    /** How many injected frames the device has not read yet. */
    public synchronized int pending() {
        return toGuest.size();
    }

    /** The frames the guest sent since the last call. */
    public synchronized List<byte[]> takeSent() {
        List<byte[]> out = List.copyOf(sent);
        sent.clear();
        return out;
    }

    @Override
    public synchronized int read(MemorySegment dst) {
        byte[] frame = toGuest.poll();
        if (frame == null) {
            return 0;
        }
        int n = (int) Math.min(frame.length, dst.byteSize());
        MemorySegment.copy(MemorySegment.ofArray(frame), 0, dst, 0, n);
        return n;
    }

    @Override
    public synchronized void write(MemorySegment frame) {
        byte[] copy = frame.toArray(ValueLayout.JAVA_BYTE);
        if (loopback) {
            toGuest.add(copy);
        } else {
            sent.add(copy);
        }
    }

    @Override
    public void close() {
    }
}
