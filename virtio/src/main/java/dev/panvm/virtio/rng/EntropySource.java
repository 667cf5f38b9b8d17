package dev.panvm.virtio.rng;

import java.io.IOException;
import java.lang.foreign.MemorySegment;

/** Where a virtio-rng device's bytes come from. */
public interface EntropySource extends AutoCloseable {
    /**
     * Fills the start of {@code dst} (guest memory) with random bytes and returns how many; at
     * least one unless the source failed.
     */
    long fill(MemorySegment dst) throws IOException;

    @Override
    void close() throws IOException;
}
