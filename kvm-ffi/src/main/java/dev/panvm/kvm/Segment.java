package dev.panvm.kvm;

import java.lang.foreign.MemorySegment;

import static dev.panvm.kvm.api.KvmStructs.KVM_SEGMENT;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * A segment register as KVM sees it ({@code struct kvm_segment}): the selector plus the hidden
 * descriptor cache (base, limit, attribute bits). The attribute names follow the Intel SDM.
 */
public record Segment(long base, int limit, int selector, int type, boolean present, int dpl,
                      boolean db, boolean s, boolean l, boolean g, boolean avl, boolean unusable) {

    /** Reads a {@code kvm_segment} at {@code offset} in {@code mem}. */
    static Segment read(MemorySegment mem, long offset) {
        return new Segment(
                mem.get(JAVA_LONG, offset + off("base")),
                mem.get(JAVA_INT, offset + off("limit")),
                Short.toUnsignedInt(mem.get(JAVA_SHORT, offset + off("selector"))),
                u8(mem, offset + off("type")),
                u8(mem, offset + off("present")) != 0,
                u8(mem, offset + off("dpl")),
                u8(mem, offset + off("db")) != 0,
                u8(mem, offset + off("s")) != 0,
                u8(mem, offset + off("l")) != 0,
                u8(mem, offset + off("g")) != 0,
                u8(mem, offset + off("avl")) != 0,
                u8(mem, offset + off("unusable")) != 0);
    }

    /** Writes this segment as a {@code kvm_segment} at {@code offset} in {@code mem}. */
    void write(MemorySegment mem, long offset) {
        mem.asSlice(offset, KVM_SEGMENT.byteSize()).fill((byte) 0);
        mem.set(JAVA_LONG, offset + off("base"), base);
        mem.set(JAVA_INT, offset + off("limit"), limit);
        mem.set(JAVA_SHORT, offset + off("selector"), (short) selector);
        mem.set(JAVA_BYTE, offset + off("type"), (byte) type);
        mem.set(JAVA_BYTE, offset + off("present"), flag(present));
        mem.set(JAVA_BYTE, offset + off("dpl"), (byte) dpl);
        mem.set(JAVA_BYTE, offset + off("db"), flag(db));
        mem.set(JAVA_BYTE, offset + off("s"), flag(s));
        mem.set(JAVA_BYTE, offset + off("l"), flag(l));
        mem.set(JAVA_BYTE, offset + off("g"), flag(g));
        mem.set(JAVA_BYTE, offset + off("avl"), flag(avl));
        mem.set(JAVA_BYTE, offset + off("unusable"), flag(unusable));
    }

    private static long off(String field) {
        return Layouts.offsetOf(KVM_SEGMENT, field);
    }

    private static int u8(MemorySegment mem, long offset) {
        return Byte.toUnsignedInt(mem.get(JAVA_BYTE, offset));
    }

    private static byte flag(boolean b) {
        return (byte) (b ? 1 : 0);
    }
}
