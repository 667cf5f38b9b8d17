package dev.panvm.vmm.boot;

/** How panvm enters a kernel. */
public enum BootProtocol {
    /**
     * Direct 64-bit entry at {@code e_entry}: long mode with panvm's page tables and GDT, SSE
     * enabled, RBX = {@code hvm_start_info}, RDI = vCPU index (see guest-kernel/BOOT.md).
     */
    DIRECT,
    /** PVH: 32-bit protected mode, paging off, at the XEN_ELFNOTE_PHYS32_ENTRY, EBX = start info. */
    PVH
}
