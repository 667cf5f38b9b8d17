package dev.panvm.virtio;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Little-endian accessors for guest structures: every virtio structure is little-endian
 * (1.2, 1.4 "Structure Specifications"), whatever the host's byte order. Unaligned layouts,
 * because guest addresses are only as aligned as the guest made them.
 */
public final class LittleEndian {
    public static final ValueLayout.OfShort U16 =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfInt U32 =
            ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfLong U64 =
            ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private LittleEndian() {
    }

    public static int u8(MemorySegment s, long offset) {
        return s.get(ValueLayout.JAVA_BYTE, offset) & 0xff;
    }

    public static int u16(MemorySegment s, long offset) {
        return s.get(U16, offset) & 0xffff;
    }

    public static long u32(MemorySegment s, long offset) {
        return s.get(U32, offset) & 0xffff_ffffL;
    }

    public static long u64(MemorySegment s, long offset) {
        return s.get(U64, offset);
    }

    public static void putU8(MemorySegment s, long offset, int value) {
        s.set(ValueLayout.JAVA_BYTE, offset, (byte) value);
    }

    public static void putU16(MemorySegment s, long offset, int value) {
        s.set(U16, offset, (short) value);
    }

    public static void putU32(MemorySegment s, long offset, long value) {
        s.set(U32, offset, (int) value);
    }

    public static void putU64(MemorySegment s, long offset, long value) {
        s.set(U64, offset, value);
    }

    /**
     * Reads a 1, 2, 4 or 8 byte little-endian value of {@code data}'s size, as an MMIO access
     * carries it.
     */
    public static long value(MemorySegment data) {
        return switch ((int) data.byteSize()) {
            case 1 -> u8(data, 0);
            case 2 -> u16(data, 0);
            case 4 -> u32(data, 0);
            case 8 -> u64(data, 0);
            default -> throw new IllegalArgumentException("access of " + data.byteSize() + " bytes");
        };
    }
}
