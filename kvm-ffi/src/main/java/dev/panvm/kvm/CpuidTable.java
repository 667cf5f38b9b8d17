package dev.panvm.kvm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

import static dev.panvm.kvm.api.KvmStructs.KVM_CPUID2;
import static dev.panvm.kvm.api.KvmStructs.KVM_CPUID_ENTRY2;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/** Conversions between {@link CpuidEntry} lists and {@code struct kvm_cpuid2} buffers. */
final class CpuidTable {
    private CpuidTable() {}

    private static final String[] FIELDS = {"function", "index", "flags", "eax", "ebx", "ecx", "edx"};

    static CpuidEntry readEntry(MemorySegment buf, long offset) {
        int[] v = new int[FIELDS.length];
        for (int i = 0; i < FIELDS.length; i++) {
            v[i] = buf.get(JAVA_INT, offset + Layouts.offsetOf(KVM_CPUID_ENTRY2, FIELDS[i]));
        }
        return new CpuidEntry(v[0], v[1], v[2], v[3], v[4], v[5], v[6]);
    }

    /** A {@code kvm_cpuid2} holding {@code entries}, allocated in {@code arena}. */
    static MemorySegment toKvmCpuid2(Arena arena, List<CpuidEntry> entries) {
        long entrySize = KVM_CPUID_ENTRY2.byteSize();
        MemorySegment buf = arena.allocate(KVM_CPUID2.byteSize() + entries.size() * entrySize, 8);
        buf.set(JAVA_INT, Layouts.offsetOf(KVM_CPUID2, "nent"), entries.size());
        for (int i = 0; i < entries.size(); i++) {
            CpuidEntry e = entries.get(i);
            int[] v = {e.function(), e.index(), e.flags(), e.eax(), e.ebx(), e.ecx(), e.edx()};
            long base = KVM_CPUID2.byteSize() + i * entrySize;
            for (int f = 0; f < FIELDS.length; f++) {
                buf.set(JAVA_INT, base + Layouts.offsetOf(KVM_CPUID_ENTRY2, FIELDS[f]), v[f]);
            }
        }
        return buf;
    }
}
