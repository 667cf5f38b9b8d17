package dev.panvm.vmm.arch.x86_64;

import dev.panvm.vmm.memory.GuestMemory;

/**
 * The boot page tables of the direct 64-bit entry: an identity map of the first 4 GiB and the
 * kernel half ({@link Layout#KERNEL_VIRT_BASE}) mapped to physical 0..2 GiB, all with 2 MiB
 * pages. A kernel replaces them with its own early on; they only have to reach its entry point
 * and the boot structures.
 */
public final class PageTables {
    private PageTables() {}

    private static final long PRESENT = 1L;
    private static final long WRITABLE = 1L << 1;
    private static final long PAGE_SIZE_2M = 1L << 7;
    private static final long TWO_MIB = 2L << 20;

    /** Writes the tables; returns the value for CR3. */
    public static long write(GuestMemory mem) {
        for (long a = Layout.PML4_ADDR; a < Layout.PD_ADDR + Layout.PD_COUNT * 0x1000L; a += 8) {
            mem.putLong(a, 0);
        }
        mem.putLong(Layout.PML4_ADDR, Layout.PDPT_IDENTITY_ADDR | PRESENT | WRITABLE);
        // PML4 slot 511 covers the top 512 GiB, where the kernel half lives.
        mem.putLong(Layout.PML4_ADDR + 511 * 8, Layout.PDPT_KERNEL_ADDR | PRESENT | WRITABLE);
        for (int gib = 0; gib < Layout.PD_COUNT; gib++) {
            long pd = Layout.PD_ADDR + gib * 0x1000L;
            mem.putLong(Layout.PDPT_IDENTITY_ADDR + gib * 8L, pd | PRESENT | WRITABLE);
            for (int i = 0; i < 512; i++) {
                long phys = (gib * 512L + i) * TWO_MIB;
                mem.putLong(pd + i * 8L, phys | PRESENT | WRITABLE | PAGE_SIZE_2M);
            }
        }
        // 0xffffffff80000000 is PDPT slot 510: reuse the page directories of physical 0..2 GiB.
        mem.putLong(Layout.PDPT_KERNEL_ADDR + 510 * 8, Layout.PD_ADDR | PRESENT | WRITABLE);
        mem.putLong(Layout.PDPT_KERNEL_ADDR + 511 * 8, (Layout.PD_ADDR + 0x1000) | PRESENT | WRITABLE);
        return Layout.PML4_ADDR;
    }
}
