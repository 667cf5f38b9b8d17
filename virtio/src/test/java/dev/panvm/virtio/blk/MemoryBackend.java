package dev.panvm.virtio.blk;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A RAM disk for the device's tests, safe for concurrent calls (requests touch disjoint ranges,
 * as a driver's concurrent requests do). Every call runs the test's {@link Hook} before (to hold,
 * fail or record it) and after its work.
 */
final class MemoryBackend implements BlockBackend {
    /** What runs around every call: {@code op} is "read", "write" or "flush". */
    @FunctionalInterface
    interface Hook {
        void before(String op, long offset, long length) throws IOException;

        default void after(String op, long offset, long length) {
        }
    }

    private final Arena arena = Arena.ofShared();
    private final MemorySegment disk;
    private final String id;
    private volatile Hook hook = (op, offset, length) -> { };

    MemoryBackend(long size, String id) {
        this.disk = arena.allocate(size, 4096);
        this.id = id;
        for (long i = 0; i < size; i++) {
            disk.set(java.lang.foreign.ValueLayout.JAVA_BYTE, i, pattern(i));
        }
    }

    /** The byte at {@code offset} before anything was written. */
    static byte pattern(long offset) {
        return (byte) (offset / 512 * 7 + offset);
    }

    void setHook(Hook hook) {
        this.hook = hook;
    }

    /** The medium's bytes {@code [offset, offset + length)}. */
    byte[] contents(long offset, int length) {
        return disk.asSlice(offset, length).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
    }

    @Override
    public long size() {
        return disk.byteSize();
    }

    @Override
    public boolean isReadOnly() {
        return false;
    }

    @Override
    public String deviceId() {
        return id;
    }

    @Override
    public long read(long offset, MemorySegment dst) throws IOException {
        Hook h = hook;
        h.before("read", offset, dst.byteSize());
        MemorySegment.copy(disk, offset, dst, 0, dst.byteSize());
        h.after("read", offset, dst.byteSize());
        return dst.byteSize();
    }

    @Override
    public void write(long offset, MemorySegment src) throws IOException {
        Hook h = hook;
        h.before("write", offset, src.byteSize());
        MemorySegment.copy(src, 0, disk, offset, src.byteSize());
        h.after("write", offset, src.byteSize());
    }

    @Override
    public void flush() throws IOException {
        Hook h = hook;
        h.before("flush", 0, 0);
        h.after("flush", 0, 0);
    }

    @Override
    public void close() {
        arena.close();
    }
}
