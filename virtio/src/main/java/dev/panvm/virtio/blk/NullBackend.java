package dev.panvm.virtio.blk;

import java.lang.foreign.MemorySegment;

/**
 * A block device without media ({@code --disk null:SIZE}), after Linux's null_blk and the Rust
 * rnull driver: every request completes at once, so a benchmark on it measures the block path
 * itself (guest driver, queue, exits, device) and nothing of the storage.
 *
 * <p>Reads: by default, like rnull, the backend does not touch the guest's buffers at all, and
 * the device reports (honestly, 2.7.8) that it wrote only the status byte; the guest sees
 * whatever was in its buffers before. With {@code zeroFill} the buffers are zeroed, so reads
 * return zeroes at the cost of a memset per request. Writes, flushes, discards and write zeroes
 * are accepted and forgotten.
 */
public final class NullBackend implements BlockBackend {
    private final long size;
    private final boolean zeroFill;

    public NullBackend(long size, boolean zeroFill) {
        if (size < 0) {
            throw new IllegalArgumentException("size " + size);
        }
        this.size = size;
        this.zeroFill = zeroFill;
    }

    /** A null device of {@code size} bytes that leaves read buffers untouched. */
    public NullBackend(long size) {
        this(size, false);
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public boolean isReadOnly() {
        return false;
    }

    @Override
    public String deviceId() {
        return "panvm-null";
    }

    @Override
    public long read(long offset, MemorySegment dst) {
        if (!zeroFill) {
            return 0;
        }
        dst.fill((byte) 0);
        return dst.byteSize();
    }

    @Override
    public void write(long offset, MemorySegment src) {
    }

    @Override
    public void flush() {
    }

    /** Nothing to wait for: the device runs requests where it takes them. */
    @Override
    public boolean blocks() {
        return false;
    }

    @Override
    public boolean supportsDiscard() {
        return true;
    }

    @Override
    public void discard(long offset, long length) {
    }

    @Override
    public boolean supportsWriteZeroes() {
        return true;
    }

    @Override
    public void writeZeroes(long offset, long length) {
    }

    @Override
    public void close() {
    }
}
