package dev.panvm.virtio.blk;

import java.io.IOException;
import java.lang.foreign.MemorySegment;

/**
 * The storage behind a virtio-blk device. Offsets and lengths are in bytes and already checked
 * against {@link #size()} by the device; buffers are guest memory, so implementations move data
 * straight between the medium and them, without intermediate arrays. Calls may come from several
 * threads at once (the device's I/O threads), for disjoint ranges or a flush.
 */
public interface BlockBackend extends AutoCloseable {

    /** The medium's size in bytes (the device exposes it rounded down to 512-byte sectors). */
    long size();

    boolean isReadOnly();

    /** The device ID string for VIRTIO_BLK_T_GET_ID: ASCII, at most 20 bytes (5.2.6). */
    String deviceId();

    /**
     * Reads {@code dst.byteSize()} bytes at {@code offset} into {@code dst} and returns how many
     * bytes of {@code dst} it wrote: all of them, or 0 for a backend that completes reads
     * without touching the buffer (see {@link NullBackend}).
     */
    long read(long offset, MemorySegment dst) throws IOException;

    /** Writes all of {@code src} at {@code offset}. */
    void write(long offset, MemorySegment src) throws IOException;

    /** Makes every completed write durable (fdatasync for a file). */
    void flush() throws IOException;

    /**
     * Whether calls may wait (for a disk, a network file system), so that the device runs them
     * on I/O threads, several at a time. A backend whose every call completes at once returns
     * false: the device then runs requests on the thread that takes them, as a hand-off to
     * another thread would cost more than the call.
     */
    default boolean blocks() {
        return true;
    }

    /** Whether {@link #discard} works; the device offers VIRTIO_BLK_F_DISCARD only then. */
    default boolean supportsDiscard() {
        return false;
    }

    /** Lets the medium forget {@code length} bytes at {@code offset}; later reads return anything. */
    default void discard(long offset, long length) throws IOException {
        throw new UnsupportedOperationException("discard");
    }

    /** Whether {@link #writeZeroes} works; the device offers VIRTIO_BLK_F_WRITE_ZEROES only then. */
    default boolean supportsWriteZeroes() {
        return false;
    }

    /** Makes {@code length} bytes at {@code offset} read back as zeroes. */
    default void writeZeroes(long offset, long length) throws IOException {
        throw new UnsupportedOperationException("write zeroes");
    }

    @Override
    void close() throws IOException;
}
