/*
 * boot.S -- ferrite's first instructions, for both entry paths (see BOOT.md).
 *
 *   QEMU (PVH):   pvh_entry, 32-bit protected mode, paging off, EBX = &hvm_start_info
 *   panvm:        ferrite_direct_entry (ELF e_entry), 64-bit long mode,
 *                 RBX = &hvm_start_info, RDI = vCPU index, RSI = vCPU count;
 *                 every vCPU enters here at once (no INIT/SIPI)
 *
 *   QEMU APs:     ap_trampoline (copied below 1 MiB by smp.rs), 16-bit real
 *                 mode after INIT-SIPI-SIPI -> ap_entry32 -> ap_entry64; the
 *                 boot CPU leaves index, &hvm_start_info and CPU count in
 *                 ap_boot_params (smp.rs)
 *
 * All end in common_entry, which installs the kernel's own page tables, probes
 * for a PVM host and, if there is one, switches into PVM native mode before any
 * Rust code runs.  On a PVM host everything before that switch is executed by
 * KVM's instruction emulator (~1 us per instruction, and it lacks many SSE
 * instructions), so this file runs no loops and the page tables are prebuilt
 * data.
 *
 * Every symbol is linked at its upper-half virtual address (KERNEL_VMA + phys).
 * Code that runs before paging uses `sym - KERNEL_VMA`, the physical address.
 */

.set KERNEL_VMA,        0xffffffff80000000      /* same value in linker.ld and phys.rs */

/* Page-table entry bits.  PVM native mode requires U/S on every level. */
.set PTE_P,             1 << 0
.set PTE_RW,            1 << 1
.set PTE_US,            1 << 2
.set PTE_PWT,           1 << 3
.set PTE_PCD,           1 << 4
.set PTE_PS,            1 << 7                  /* 2 MiB page in a page directory */
.set PTE_TABLE,         PTE_P | PTE_RW | PTE_US
.set PTE_2M,            PTE_P | PTE_RW | PTE_US | PTE_PS
.set PTE_2M_UNCACHED,   PTE_2M | PTE_PWT | PTE_PCD

.set CR0_PE,            1 << 0
.set CR0_MP,            1 << 1
.set CR0_EM,            1 << 2
.set CR0_ET,            1 << 4
.set CR0_NE,            1 << 5
.set CR0_WP,            1 << 16
.set CR0_PG,            1 << 31
.set CR4_PAE,           1 << 5
.set CR4_OSFXSR,        1 << 9
.set CR4_OSXMMEXCPT,    1 << 10

.set MSR_EFER,          0xc0000080
.set EFER_LME,          1 << 8

/* PVM (kvm_pvm) MSRs, measured on this project's hosts (DESIGN.md). */
.set MSR_PVM_NATIVE,    0x4b564d10              /* write 1: run kernel code natively */
.set MSR_PVM_SIGNATURE, 0x4b564d11              /* reads "PVM"; #GP on other hosts */
.set PVM_SIGNATURE,     0x4d5650

/* Selectors of the boot GDT below; the VMM's GDT for the direct entry uses the same. */
.set GDT_CODE64,        0x08
.set GDT_DATA,          0x10
.set GDT_CODE32,        0x18                    /* ap_gdt only: the AP trampoline's protected mode */

/* Values of kernel_main's `entry` argument (boot.rs: EntryPath). */
.set ENTRY_PVH,         0
.set ENTRY_DIRECT,      1

.set BOOT_STACK_SHIFT,  16                      /* 64 KiB per CPU */
.set BOOT_STACK_SIZE,   1 << BOOT_STACK_SHIFT
.set MAX_CPUS,          64                      /* same value in percpu.rs */

/* ------------------------------------------------------------------------- */
/* The PVH ELF note: QEMU looks for XEN_ELFNOTE_PHYS32_ENTRY in PT_NOTE.      */

.pushsection .note.Xen, "a", @note
    .balign 4
    .long 4                             /* n_namesz: "Xen\0" */
    .long 4                             /* n_descsz */
    .long 18                            /* n_type: XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .balign 4
    .long pvh_entry - KERNEL_VMA        /* 32-bit physical entry point */
.popsection

/* ------------------------------------------------------------------------- */
.pushsection .text.boot, "ax", @progbits

/*
 * PVH entry: 32-bit protected mode, flat segments, paging off, interrupts off,
 * EBX = physical address of hvm_start_info.  No stack is used here.
 */
/*
 * From 32-bit protected mode on a GDT with the kernel's selectors: flat data
 * segments, then long mode = PAE paging on the boot page tables + EFER.LME +
 * CR0.PG (SSE bits set now too), and a far jump to the 64-bit code at
 * `target` (its physical address): in compatibility mode, a far jump to a
 * 64-bit segment enters long mode. The boot CPU (pvh_entry) and the APs
 * QEMU's SIPI starts (ap_entry32) both come this way.
 */
.macro ENTER_LONG_MODE target
    mov     $GDT_DATA, %eax
    mov     %eax, %ds
    mov     %eax, %es
    mov     %eax, %ss
    mov     %cr4, %eax
    or      $(CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT), %eax
    mov     %eax, %cr4
    mov     $(boot_pml4 - KERNEL_VMA), %eax
    mov     %eax, %cr3
    mov     $MSR_EFER, %ecx
    rdmsr
    or      $EFER_LME, %eax
    wrmsr
    mov     %cr0, %eax
    and     $~CR0_EM, %eax
    or      $(CR0_PG | CR0_WP | CR0_NE | CR0_ET | CR0_MP | CR0_PE), %eax
    mov     %eax, %cr0
    ljmp    $GDT_CODE64, $(\target - KERNEL_VMA)
.endm

.code32
.global pvh_entry
pvh_entry:
    cli
    cld
    mov     %ebx, %esi                  /* keep &hvm_start_info */

    lgdt    gdt_ptr32 - KERNEL_VMA
    ENTER_LONG_MODE pvh_entry64

.code64
pvh_entry64:
    /* Still at a physical (identity-mapped) address.  The upper halves of the
     * registers are undefined after the mode switch: zero-extend explicitly. */
    mov     %esi, %r12d                 /* r12 = &hvm_start_info */
    mov     $ENTRY_PVH, %r13d           /* r13 = entry path */
    xor     %r14d, %r14d                /* r14 = vCPU index (PVH boots CPU 0 only) */
    mov     $1, %ebx                    /* rbx = vCPU count (PVH: one CPU) */
    movabs  $common_entry, %rax
    jmp     *%rax

/*
 * Application processors started by the kernel itself (QEMU's PVH path:
 * smp.rs sends INIT-SIPI-SIPI).  The SIPI starts the AP in 16-bit real mode
 * at CS = page << 8, IP = 0, on the copy of ap_trampoline..ap_trampoline_end
 * that smp.rs put on that page below 1 MiB; only that part is copied, so it
 * addresses its own data relative to CS.  It enters protected mode on
 * ap_gdt and jumps to ap_entry32 in the kernel image (physical address),
 * which enables long mode on the kernel's page tables like pvh_entry, then
 * claims its index in ap_boot_params and joins common_entry as an AP.
 * No stack is used before common_entry.
 */
.code16
.global ap_trampoline
ap_trampoline:
    cli
    cld
    mov     %cs, %ax
    mov     %ax, %ds
    lgdtl   ap_trampoline_gdt_ptr - ap_trampoline
    mov     %cr0, %eax
    or      $CR0_PE, %eax
    mov     %eax, %cr0
    ljmpl   $GDT_CODE32, $(ap_entry32 - KERNEL_VMA)
.balign 8
ap_trampoline_gdt_ptr:                  /* lgdtl operand: limit, 32-bit physical base */
    .word   ap_gdt_end - ap_gdt - 1
    .long   ap_gdt - KERNEL_VMA
.global ap_trampoline_end
ap_trampoline_end:

.code32
ap_entry32:
    ENTER_LONG_MODE ap_entry64

.code64
ap_entry64:
    movabs  $ap_entry_high, %rax
    jmp     *%rax
ap_entry_high:
    /* ap_boot_params (smp.rs): offered cpu index, &hvm_start_info, CPU count.
     * Claim the offered index by swapping it for 0: exactly one CPU gets it,
     * and the boot CPU sees the 0.  Index 0 (the boot CPU's) means nothing
     * is offered (a stray SIPI, or one the boot CPU gave up on): park.  The
     * boot CPU never offers an index without a boot stack; checked anyway. */
    mov     ap_boot_params+0(%rip), %rax
    test    %rax, %rax
    jz      park
    xor     %ecx, %ecx
    lock cmpxchg %rcx, ap_boot_params+0(%rip)
    jne     park                        /* withdrawn or taken meanwhile */
    mov     %rax, %r14
    cmp     $MAX_CPUS, %r14
    jae     park
    mov     ap_boot_params+8(%rip), %r12
    mov     ap_boot_params+16(%rip), %rbx
    mov     $ENTRY_PVH, %r13d
    jmp     common_entry

/*
 * panvm's direct entry (ELF e_entry): 64-bit long mode, CPL0, the VMM's page
 * tables (identity 0..4 GiB, KERNEL_VMA -> 0 for 2 GiB), RBX = &hvm_start_info,
 * RDI = vCPU index, RSI = vCPU count, RSP unspecified (and shared by all vCPUs:
 * nothing is pushed before each CPU has its own stack).  Every vCPU enters
 * here at the same time.
 */
.global ferrite_direct_entry
ferrite_direct_entry:
    cli
    cld
    mov     %rbx, %r12
    mov     $ENTRY_DIRECT, %r13d
    mov     %rdi, %r14
    mov     %rsi, %rbx
    test    %rbx, %rbx
    jnz     1f
    mov     $1, %ebx                    /* a loader that leaves RSI 0: one CPU */
1:
    /* A CPU index without a boot stack parks; the boot CPU panics with the
     * reason (percpu.rs checks the count). */
    cmp     $MAX_CPUS, %r14
    jae     park
    /* fall through */

/*
 * Common 64-bit path, running at upper-half addresses with interrupts off.
 * In:  r12 = &hvm_start_info (physical), r13 = entry path, r14 = vCPU index
 *      (< MAX_CPUS), rbx = vCPU count.
 * Each CPU runs it: the stack, CR3 load and PVM switch are per CPU; only the
 * boot CPU (index 0) zeroes .bss, the others wait until it has.
 */
common_entry:
    /* This CPU's boot stack: boot_stacks + (index + 1) * BOOT_STACK_SIZE. */
    lea     1(%r14), %rax
    shl     $BOOT_STACK_SHIFT, %rax
    lea     boot_stacks(%rip), %rsp
    add     %rax, %rsp

    /* The kernel's own page tables (see below): U/S everywhere, PML4 on an odd page. */
    mov     $(boot_pml4 - KERNEL_VMA), %eax
    mov     %rax, %cr3

    /* The kernel's own GDT (same selectors as the loader's), then reload CS by a far return. */
    lgdt    gdt_ptr64(%rip)
    mov     $GDT_DATA, %eax
    mov     %eax, %ds
    mov     %eax, %es
    mov     %eax, %ss
    xor     %eax, %eax
    mov     %eax, %fs
    mov     %eax, %gs
    lea     1f(%rip), %rax
    pushq   $GDT_CODE64
    push    %rax
    lretq
1:
    /* The prebuilt Rust core uses SSE: CR0.MP=1, CR0.EM=0, CR4.OSFXSR|OSXMMEXCPT. */
    mov     %cr0, %rax
    and     $~CR0_EM, %rax
    or      $CR0_MP, %rax
    mov     %rax, %cr0
    mov     %cr4, %rax
    or      $(CR4_OSFXSR | CR4_OSXMMEXCPT), %rax
    mov     %rax, %cr4

    /*
     * Early IDT with only #GP (vector 13), so that probing a PVM MSR on a host
     * without it (hardware KVM, TCG) reports "not PVM" instead of faulting.
     * The gate is filled at run time because an assembler cannot split a
     * symbol's address into the gate's three offset fields.
     */
    lea     early_gp_handler(%rip), %rax
    lea     early_idt(%rip), %rdi
    mov     %ax, 13*16+0(%rdi)          /* offset 15:0 */
    movw    $GDT_CODE64, 13*16+2(%rdi)  /* selector */
    movw    $0x8e00, 13*16+4(%rdi)      /* present, DPL0, 64-bit interrupt gate */
    shr     $16, %rax
    mov     %ax, 13*16+6(%rdi)          /* offset 31:16 */
    shr     $16, %rax
    mov     %eax, 13*16+8(%rdi)         /* offset 63:32 */
    lidt    early_idt_ptr(%rip)

    /* CPUID for platform/cpuid.rs (`boot_cpuid`, in .data), before the PVM
     * switch: in native mode `cpuid` returns the host's values, not the
     * VMM's.  CPU 0 only; keeps rbx (the vCPU count). */
    test    %r14, %r14
    jnz     3f
    mov     %rbx, %r11
    lea     boot_cpuid(%rip), %rdi
    mov     $1, %eax
    xor     %ecx, %ecx
    cpuid
    mov     %ebx, 4(%rdi)               /* leaf 1 EBX (initial APIC id) */
    mov     %ecx, 8(%rdi)               /* leaf 1 ECX (x2APIC, TSC-deadline) */
    mov     $0x40000000, %eax
    xor     %ecx, %ecx
    cpuid
    mov     %eax, 12(%rdi)              /* max hypervisor leaf */
    mov     $0x40000010, %eax
    xor     %ecx, %ecx
    cpuid
    mov     %eax, 16(%rdi)              /* TSC kHz */
    mov     %ebx, 20(%rdi)              /* APIC bus kHz */
    movl    $1, (%rdi)                  /* filled */
    mov     %r11, %rbx
3:
    /* Probe: EAX = "PVM" on a PVM host, 0 when early_gp_handler caught a #GP. */
    mov     $MSR_PVM_SIGNATURE, %ecx
    xor     %eax, %eax
    xor     %edx, %edx
pvm_probe_rdmsr:
    rdmsr
    xor     %r15d, %r15d                /* r15 = 1 once in PVM native mode */
    cmp     $PVM_SIGNATURE, %eax
    jne     2f

    /* PVM native mode: first load CR3 with the U/S tables, then write the MSR
     * (the other order page-faults).  From the next instruction on, kernel
     * code runs natively instead of in the emulator. */
    mov     $(boot_pml4 - KERNEL_VMA), %eax
    mov     %rax, %cr3
    mov     $MSR_PVM_NATIVE, %ecx
    mov     $1, %eax
    xor     %edx, %edx
    wrmsr
    mov     $1, %r15d
2:
    test    %r14, %r14
    jnz     ap_wait_bss

    /* Zero .bss ourselves (loaders need not); natively fast by now on PVM. */
    lea     __bss_start(%rip), %rdi
    lea     __bss_end(%rip), %rcx
    sub     %rdi, %rcx
    xor     %eax, %eax
    rep stosb
    /* Release the other CPUs into Rust (x86 stores are ordered: they see .bss zeroed). */
    movl    $1, bss_ready(%rip)

    /* kernel_main(start_info_pa, entry, pvm_native, cpu, ncpus) -> ! ; RSP is 16-byte aligned. */
    mov     %r12, %rdi
    mov     %r13, %rsi
    mov     %r15, %rdx
    mov     %r14, %rcx
    mov     %rbx, %r8
    call    kernel_main
    /* not reached */

/* Secondary CPUs: wait (natively, on PVM) until .bss is clear, then
 * ap_main(cpu, pvm_native) -> !, which waits for the boot CPU's go-ahead. */
ap_wait_bss:
    pause
    cmpl    $0, bss_ready(%rip)
    je      ap_wait_bss
    mov     %r14, %rdi
    mov     %r15, %rsi
    call    ap_main
    /* not reached */
park:
    cli
    hlt
    jmp     park

/*
 * #GP during boot.  Only the probing rdmsr may fault: skip it (2 bytes) and
 * make it read 0.  Any other #GP is a bug: load an empty IDT and fault again,
 * which triple-faults (a VMM reports that as a shutdown).
 */
early_gp_handler:
    push    %rax
    lea     pvm_probe_rdmsr(%rip), %rax
    cmp     %rax, 16(%rsp)              /* frame: saved rax, error code, RIP, ... */
    jne     early_fatal
    addq    $2, 16(%rsp)
    pop     %rax
    add     $8, %rsp                    /* drop the error code */
    xor     %eax, %eax
    xor     %edx, %edx
    iretq
early_fatal:
    lidt    empty_idt_ptr(%rip)
    ud2

.popsection

/* ------------------------------------------------------------------------- */
.pushsection .data.boot, "aw", @progbits

/* Boot GDT: null, 64-bit kernel code (0x08), flat data (0x10; also valid in 32-bit mode). */
.balign 16
gdt:
    .quad 0
    .quad 0x00af9a000000ffff
    .quad 0x00cf92000000ffff
gdt_end:

/* lgdt operands: 6 bytes with a physical base in 32-bit mode, 10 bytes with a virtual base in 64-bit mode. */
.balign 8
gdt_ptr32:
    .word gdt_end - gdt - 1
    .long gdt - KERNEL_VMA
.balign 8
gdt_ptr64:
    .word gdt_end - gdt - 1
    .quad gdt

/* The AP trampoline's GDT: the boot GDT's selectors plus 32-bit code (0x18). */
.balign 16
ap_gdt:
    .quad 0
    .quad 0x00af9a000000ffff
    .quad 0x00cf92000000ffff
    .quad 0x00cf9a000000ffff
ap_gdt_end:

/* Vectors 0..13; only #GP gets a gate (above). */
.balign 16
early_idt:
    .fill 14 * 16, 1, 0
early_idt_ptr:
    .word 14 * 16 - 1
    .quad early_idt
empty_idt_ptr:
    .word 0
    .quad 0

/* Set to 1 by the boot CPU once .bss is zero (in .data: zeroing .bss must not clear it). */
.balign 4
bss_ready:
    .long 0

.popsection

/* ------------------------------------------------------------------------- */
/*
 * The kernel's page tables, fully built at assembly time (no loops at boot):
 *
 *   PML4[0]   -> boot_pdpt_low  : identity map of physical 0..4 GiB
 *   PML4[511] -> boot_pdpt_high : [509] 0xffffffff40000000: the kernel stack
 *                                       area (kstack.rs), stack_area_pd, empty
 *                                       at boot: kstack.rs adds 4 KiB pages
 *                                 [510] 0xffffffff80000000 -> phys 0..1 GiB
 *                                 [511] 0xffffffffc0000000 -> phys 1..2 GiB
 *
 * with 2 MiB pages; the top GiB of the identity map (MMIO: LAPIC, IOAPIC,
 * virtio-mmio) is uncached.  The upper half reuses the first two page
 * directories.  PVM native mode needs U/S set on every entry and the PML4 on
 * an odd 4 KiB page: the section is 8 KiB aligned, boot_pdpt_low fills the
 * even page and boot_pml4 the odd one (linker.ld asserts this).
 */
.pushsection .data.pagetables, "aw", @progbits
.balign 8192
.global boot_pdpt_low
boot_pdpt_low:
    .quad boot_pd - KERNEL_VMA + 0 * 4096 + PTE_TABLE
    .quad boot_pd - KERNEL_VMA + 1 * 4096 + PTE_TABLE
    .quad boot_pd - KERNEL_VMA + 2 * 4096 + PTE_TABLE
    .quad boot_pd - KERNEL_VMA + 3 * 4096 + PTE_TABLE
    .fill 508, 8, 0

.global boot_pml4
boot_pml4:
    .quad boot_pdpt_low - KERNEL_VMA + PTE_TABLE
    .fill 510, 8, 0
    .quad boot_pdpt_high - KERNEL_VMA + PTE_TABLE

boot_pdpt_high:
    .fill 509, 8, 0
    .quad stack_area_pd - KERNEL_VMA + PTE_TABLE
    .quad boot_pd - KERNEL_VMA + 0 * 4096 + PTE_TABLE
    .quad boot_pd - KERNEL_VMA + 1 * 4096 + PTE_TABLE

/* Four page directories back to back: 2048 x 2 MiB = 4 GiB. */
boot_pd:
.set page, 0
.rept 3 * 512
    .quad (page << 21) + PTE_2M
    .set page, page + 1
.endr
.rept 512
    .quad (page << 21) + PTE_2M_UNCACHED
    .set page, page + 1
.endr

/* The kernel stack area's page directory; kstack.rs fills it at run time. */
.global stack_area_pd
stack_area_pd:
    .fill 512, 8, 0

.popsection

/* ------------------------------------------------------------------------- */
/* The boot stacks, one per possible CPU (CPU i uses the i-th): their own
 * NOBITS section, outside the .bss range zeroed above (they are in use while
 * .bss is cleared).  Each CPU's boot stack later carries its idle loop. */
.pushsection .boot_stack, "aw", @nobits
.balign 4096
.global boot_stacks
boot_stacks:
    .skip BOOT_STACK_SIZE * MAX_CPUS
.global boot_stacks_end
boot_stacks_end:
.popsection
