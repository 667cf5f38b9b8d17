package dev.panvm.vmm.arch.x86_64;

import dev.panvm.kvm.DescriptorTable;
import dev.panvm.kvm.Regs;
import dev.panvm.kvm.Segment;
import dev.panvm.kvm.Sregs;

/**
 * The register state a kernel is entered with, for each boot protocol.
 *
 * <p>Direct 64-bit entry: long mode, CPL 0, paging on with {@link PageTables}, and SSE usable
 * from the first instruction (CR4.OSFXSR and OSXMMEXCPT, CR0.MP set, CR0.EM clear), because
 * compiled kernel code uses SSE registers. PVH entry, per the PVH ABI: 32-bit protected mode,
 * flat segments, paging off.
 */
public final class BootCpu {
    private BootCpu() {}

    static final long CR0_PE = 1L;
    static final long CR0_MP = 1L << 1;
    static final long CR0_ET = 1L << 4;
    static final long CR0_NE = 1L << 5;
    static final long CR0_WP = 1L << 16;
    static final long CR0_PG = 1L << 31;
    static final long CR4_PAE = 1L << 5;
    static final long CR4_OSFXSR = 1L << 9;
    static final long CR4_OSXMMEXCPT = 1L << 10;
    static final long EFER_LME = 1L << 8;
    static final long EFER_LMA = 1L << 10;

    /** Special registers for the direct 64-bit entry, keeping KVM's APIC base and interrupt bitmap. */
    public static Sregs longMode(Sregs reset, int gdtLimit, long cr3) {
        Segment code = Gdt.segment(Gdt.CODE64_SELECTOR);
        Segment data = Gdt.segment(Gdt.DATA_SELECTOR);
        return new Sregs(code, data, data, data, data, data, Gdt.segment(Gdt.TSS_SELECTOR), reset.ldt(),
                new DescriptorTable(Layout.GDT_ADDR, gdtLimit), new DescriptorTable(0, 0),
                CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG, 0, cr3,
                CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT, 0, EFER_LME | EFER_LMA,
                reset.apicBase(), reset.interruptBitmap());
    }

    /** Special registers for the PVH entry: 32-bit flat protected mode, paging off. */
    public static Sregs protectedMode32(Sregs reset, int gdtLimit) {
        Segment code = Gdt.segment(Gdt.CODE32_SELECTOR);
        Segment data = Gdt.segment(Gdt.DATA_SELECTOR);
        return new Sregs(code, data, data, data, data, data, Gdt.segment(Gdt.TSS_SELECTOR), reset.ldt(),
                new DescriptorTable(Layout.GDT_ADDR, gdtLimit), new DescriptorTable(0, 0),
                CR0_PE | CR0_ET, 0, 0, 0, 0, 0, reset.apicBase(), reset.interruptBitmap());
    }

    /**
     * General registers at entry: RBX = start info, RDI = vCPU index, RSI = number of vCPUs, a
     * boot stack (shared: a kernel must load its own per-CPU stack first), IF clear.
     */
    public static Regs entryRegs(long entry, long startInfo, int vcpuIndex, int vcpuCount) {
        return Regs.initial(entry, Layout.BOOT_STACK_TOP).withRbx(startInfo).withRdi(vcpuIndex).withRsi(vcpuCount);
    }
}
