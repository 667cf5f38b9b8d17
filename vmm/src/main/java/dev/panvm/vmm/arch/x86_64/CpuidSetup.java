package dev.panvm.vmm.arch.x86_64;

import dev.panvm.kvm.CpuidEntry;

import java.util.ArrayList;
import java.util.List;

/**
 * Adapts KVM's supported CPUID to one vCPU: its APIC id in leaves 0x1 and 0xB/0x1F, and the
 * hypervisor timing leaf 0x40000010 (TSC and APIC-timer frequency in kHz, as VMware and QEMU
 * define it), so a guest need not calibrate its TSC.
 */
public final class CpuidSetup {
    private CpuidSetup() {}

    static final int LEAF_FEATURES = 0x1;
    static final int LEAF_EXT_TOPOLOGY = 0xb;
    static final int LEAF_V2_EXT_TOPOLOGY = 0x1f;
    static final int LEAF_HYPERVISOR = 0x40000000;
    static final int LEAF_TIMING = 0x40000010;
    /** KVM's local APIC timer runs at 1 GHz. */
    static final int APIC_TIMER_KHZ = 1_000_000;

    public static List<CpuidEntry> forVcpu(List<CpuidEntry> supported, int apicId, int tscKhz) {
        List<CpuidEntry> out = new ArrayList<>(supported.size() + 1);
        for (CpuidEntry e : supported) {
            if (e.function() == LEAF_TIMING) {
                continue; // replaced below
            }
            out.add(switch (e.function()) {
                case LEAF_FEATURES -> e.withEbx((e.ebx() & 0x00ffffff) | (apicId << 24));
                case LEAF_EXT_TOPOLOGY, LEAF_V2_EXT_TOPOLOGY -> e.withEdx(apicId);
                case LEAF_HYPERVISOR -> new CpuidEntry(e.function(), e.index(), e.flags(),
                        Math.max(e.eax(), LEAF_TIMING), e.ebx(), e.ecx(), e.edx());
                default -> e;
            });
        }
        if (tscKhz > 0) {
            out.add(new CpuidEntry(LEAF_TIMING, 0, 0, tscKhz, APIC_TIMER_KHZ, 0, 0));
        }
        return out;
    }
}
