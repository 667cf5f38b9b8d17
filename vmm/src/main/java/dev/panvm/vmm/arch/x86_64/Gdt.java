package dev.panvm.vmm.arch.x86_64;

import dev.panvm.kvm.Segment;
import dev.panvm.vmm.memory.GuestMemory;

/**
 * The boot GDT: the descriptors both entry paths need, written to guest memory, and the
 * matching hidden-cache values KVM takes in {@code kvm_sregs} (as Firecracker's {@code gdt.rs}).
 */
public final class Gdt {
    private Gdt() {}

    public static final int CODE64_SELECTOR = 0x08;
    public static final int DATA_SELECTOR = 0x10;
    public static final int CODE32_SELECTOR = 0x18;
    public static final int TSS_SELECTOR = 0x20;

    // Descriptor flags in the layout of bits 8..23 of the descriptor's high dword:
    // type(4) S DPL(2) P | limit 19:16 (4) | AVL L D/B G.
    private static final int CODE64 = 0xa09b; // G, L, present, code execute/read accessed
    private static final int DATA = 0xc093;   // G, D/B, present, data read/write accessed
    private static final int CODE32 = 0xc09b; // G, D/B, present, code execute/read accessed
    private static final int TSS = 0x808b;    // G, present, 32/64-bit TSS (busy)

    private static final long[] ENTRIES = {
            0,
            entry(CODE64, 0, 0xfffff),
            entry(DATA, 0, 0xfffff),
            entry(CODE32, 0, 0xfffff),
            entry(TSS, 0, 0xfffff),
    };

    /** A segment descriptor from flags, base and 20-bit limit. */
    static long entry(int flags, long base, long limit) {
        return ((base & 0xff000000L) << 32) | ((flags & 0x0000f0ffL) << 40) | ((limit & 0x000f0000L) << 32)
                | ((base & 0x00ffffffL) << 16) | (limit & 0x0000ffffL);
    }

    /** Writes the GDT at {@link Layout#GDT_ADDR}; returns its limit (size - 1). */
    public static int write(GuestMemory mem) {
        for (int i = 0; i < ENTRIES.length; i++) {
            mem.putLong(Layout.GDT_ADDR + 8L * i, ENTRIES[i]);
        }
        return ENTRIES.length * 8 - 1;
    }

    /** The hidden-cache form of the descriptor at {@code selector}, as KVM wants it. */
    public static Segment segment(int selector) {
        long e = ENTRIES[selector >> 3];
        long base = ((e >>> 16) & 0xffffff) | ((e >>> 32) & 0xff000000L);
        long limit20 = (e & 0xffff) | ((e >>> 32) & 0xf0000);
        boolean g = ((e >>> 55) & 1) != 0;
        int limit = (int) (g ? (limit20 << 12) | 0xfff : limit20);
        return new Segment(base, limit, selector, (int) ((e >>> 40) & 0xf), ((e >>> 47) & 1) != 0,
                (int) ((e >>> 45) & 3), ((e >>> 54) & 1) != 0, ((e >>> 44) & 1) != 0,
                ((e >>> 53) & 1) != 0, g, ((e >>> 52) & 1) != 0, false);
    }
}
