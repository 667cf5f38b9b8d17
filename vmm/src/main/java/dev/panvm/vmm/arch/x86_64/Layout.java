package dev.panvm.vmm.arch.x86_64;

/**
 * panvm's guest-physical memory layout on x86_64: every fixed address in one place (as
 * Firecracker's {@code arch/x86_64/layout.rs}).
 *
 * <pre>
 * 0x0000_0500  GDT (boot code/data/TSS descriptors)
 * 0x0000_1000  PML4 of the boot page tables
 * 0x0000_2000  PDPT for the identity map        0x0000_3000  PDPT for the kernel half
 * 0x0000_4000  4 page directories: 0..4 GiB in 2 MiB pages
 * 0x0000_8000  hvm_start_info, then its memory map at 0x0000_8040
 * 0x0001_0000  top of the boot stack (grows down)
 * 0x0002_0000  kernel command line (NUL-terminated)
 * 0x0010_0000  lowest address a kernel may load at (1 MiB)
 * 0xC000_0000  MMIO hole up to 4 GiB; RAM beyond 3 GiB continues at 4 GiB
 * 0xD000_0000  virtio-mmio slots, 4 KiB apart (interrupts 16, 17, ...: IOAPIC pins above the
 *              ISA range)
 * 0xFEC0_0000  IOAPIC; 0xFEE0_0000 local APIC
 * </pre>
 */
public final class Layout {
    private Layout() {}

    public static final long GDT_ADDR = 0x500;
    public static final long PML4_ADDR = 0x1000;
    public static final long PDPT_IDENTITY_ADDR = 0x2000;
    public static final long PDPT_KERNEL_ADDR = 0x3000;
    public static final long PD_ADDR = 0x4000;
    /** Page directories mapping the first 4 GiB (one per GiB). */
    public static final int PD_COUNT = 4;
    public static final long START_INFO_ADDR = 0x8000;
    public static final long MEMMAP_ADDR = 0x8040;
    public static final int MEMMAP_MAX_ENTRIES = (int) ((0x9000 - MEMMAP_ADDR) / 24);
    public static final long BOOT_STACK_TOP = 0x10000;
    public static final long CMDLINE_ADDR = 0x20000;
    /** Longest command line accepted, without the terminating NUL (Linux's x86 default is 2048). */
    public static final int CMDLINE_MAX = 4095;
    /** Legacy low memory ends where the EBDA begins. */
    public static final long LOW_RAM_END = 0x9fc00;
    public static final long HIMEM_START = 0x100000;
    public static final long MMIO_HOLE_START = 0xC000_0000L;
    public static final long MMIO_HOLE_END = 0x1_0000_0000L;
    public static final long VIRTIO_MMIO_BASE = 0xD000_0000L;
    public static final long VIRTIO_MMIO_STRIDE = 0x1000;
    /** First interrupt of the virtio slots: IOAPIC pins 16..23 are free of ISA devices. */
    public static final int VIRTIO_IRQ_BASE = 16;
    public static final int VIRTIO_MAX_DEVICES = 8;
    /** Three pages KVM on Intel needs for its real-mode TSS, just below the BIOS ROM area. */
    public static final long KVM_TSS_ADDR = 0xfffb_d000L;
    public static final long KVM_IDENTITY_MAP_ADDR = 0xfffb_c000L;
    /** Base of the kernel's upper-half mapping (Linux's __START_KERNEL_map). */
    public static final long KERNEL_VIRT_BASE = 0xffff_ffff_8000_0000L;
    /** Size of the kernel-half mapping the boot page tables provide. */
    public static final long KERNEL_VIRT_SIZE = 2L << 30;
    /** Smallest guest RAM panvm accepts: room for the boot area and a small kernel. */
    public static final long MIN_RAM = 16L << 20;

    /** The guest-physical RAM ranges ({@code {address, size}}) for {@code ramSize} bytes of RAM. */
    public static long[][] ramRanges(long ramSize) {
        if (ramSize <= MMIO_HOLE_START) {
            return new long[][] {{0, ramSize}};
        }
        return new long[][] {{0, MMIO_HOLE_START}, {MMIO_HOLE_END, ramSize - MMIO_HOLE_START}};
    }

    /**
     * Translates a virtual address of the boot page tables to a physical one: identity below
     * 4 GiB, and {@code KERNEL_VIRT_BASE + x -> x} in the kernel half. -1 if unmapped.
     */
    public static long bootVirtToPhys(long virt) {
        if (Long.compareUnsigned(virt, MMIO_HOLE_END) < 0) {
            return virt;
        }
        if (Long.compareUnsigned(virt, KERNEL_VIRT_BASE) >= 0) {
            return virt - KERNEL_VIRT_BASE;
        }
        return -1;
    }
}
