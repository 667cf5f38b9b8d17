package dev.panvm.virtio;

import java.lang.foreign.MemorySegment;

/**
 * A device configuration space (virtio 1.2, 2.5): a little-endian structure the driver reads at
 * any offset and width. Bytes beyond its end read as 0. Synchronized, because a device may
 * change a field (and then signal a configuration change) while a vCPU reads.
 */
public final class ConfigSpace {
    private final MemorySegment bytes;

    public ConfigSpace(int size) {
        this.bytes = MemorySegment.ofArray(new byte[size]);
    }

    public long size() {
        return bytes.byteSize();
    }

    /** Copies what overlaps {@code [offset, offset + data.byteSize())} into {@code data}; the rest stays as the caller left it. */
    public synchronized void read(long offset, MemorySegment data) {
        if (offset < 0 || offset >= bytes.byteSize()) {
            return;
        }
        long n = Math.min(data.byteSize(), bytes.byteSize() - offset);
        MemorySegment.copy(bytes, offset, data, 0, n);
    }

    public synchronized void putU8(long offset, int value) {
        LittleEndian.putU8(bytes, offset, value);
    }

    public synchronized void putU16(long offset, int value) {
        LittleEndian.putU16(bytes, offset, value);
    }

    public synchronized void putU32(long offset, long value) {
        LittleEndian.putU32(bytes, offset, value);
    }

    public synchronized void putU64(long offset, long value) {
        LittleEndian.putU64(bytes, offset, value);
    }
}
