package dev.panvm.virtio.queue;

import dev.panvm.virtio.LittleEndian;

import java.lang.foreign.MemorySegment;

/**
 * One entry of a descriptor table, {@code struct virtq_desc} (virtio 1.2, 2.7.5), as the guest
 * wrote it: nothing in it is trusted yet.
 */
public record Descriptor(long address, long length, int flags, int next) {
    /** The size of {@code struct virtq_desc}. */
    public static final int SIZE = 16;

    /** This marks a buffer as continuing via the next field. */
    public static final int VIRTQ_DESC_F_NEXT = 1;
    /** This marks a buffer as device write-only (otherwise device read-only). */
    public static final int VIRTQ_DESC_F_WRITE = 2;
    /** This means the buffer contains a list of buffer descriptors (2.7.5.3). */
    public static final int VIRTQ_DESC_F_INDIRECT = 4;

    /** Reads entry {@code index} of a table the caller has already bounds-checked. */
    static Descriptor read(MemorySegment table, int index) {
        long at = (long) index * SIZE;
        return new Descriptor(
                LittleEndian.u64(table, at),
                LittleEndian.u32(table, at + 8),
                LittleEndian.u16(table, at + 12),
                LittleEndian.u16(table, at + 14));
    }

    /** Writes this descriptor as entry {@code index} of {@code table} (the driver side, for tests and tools). */
    public void write(MemorySegment table, int index) {
        long at = (long) index * SIZE;
        LittleEndian.putU64(table, at, address);
        LittleEndian.putU32(table, at + 8, length);
        LittleEndian.putU16(table, at + 12, flags);
        LittleEndian.putU16(table, at + 14, next);
    }

    public boolean hasNext() {
        return (flags & VIRTQ_DESC_F_NEXT) != 0;
    }

    public boolean isWriteOnly() {
        return (flags & VIRTQ_DESC_F_WRITE) != 0;
    }

    public boolean isIndirect() {
        return (flags & VIRTQ_DESC_F_INDIRECT) != 0;
    }
}
