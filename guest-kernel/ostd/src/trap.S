/*
 * trap.S -- IDT entry stubs (exceptions 0..31, interrupts 32..255), the
 * fault-tolerant MSR accessors, and the per-CPU trap stacks.
 *
 * Exception stubs (trap_stubs, 16 bytes apart; trap.rs computes
 * `trap_stubs + 16 * vector`): push a dummy error code when the CPU pushes
 * none, then the vector number, and join trap_common, which saves all general
 * registers into a TrapFrame (trap.rs) and calls trap_handler(&mut TrapFrame).
 * Exceptions are fatal (reported, then debug exit), except a #GP raised by the
 * MSR access in rdmsr_safe/wrmsr_safe, which trap_handler resumes.
 *
 * Interrupt stubs (irq_stubs, 16 bytes apart, vector 32 first): push the vector
 * and join irq_common, which saves what the System V ABI lets a callee clobber
 * (the 9 caller-saved general registers and, with fxsave64, all x87/SSE state:
 * the prebuilt `core` uses SSE anywhere) and calls irq_handler(vector, &frame).
 *
 * preempt_trampoline: where an interrupt returns to when it preempts the task
 * it interrupted (task.rs, "When switches happen"): on the task's own stack,
 * interrupts off, below the interrupted RFLAGS and RIP that trap.rs pushed
 * there. It saves every register the interrupted code may still need (all
 * caller-saved general registers and the x87/SSE state), calls
 * ferrite_preempt_irq, restores them and resumes the interrupted code with
 * its RFLAGS (interrupts on again) at its RIP.
 */

.set TRAP_MAX_CPUS,         64                  /* trap.rs: MAX_CPUS */
.set TRAP_STACKS_SHIFT,     16                  /* trap.rs: 64 KiB of stacks per CPU */

.pushsection .text, "ax", @progbits

.balign 16
.global trap_stubs
trap_stubs:
.set vector, 0
.rept 32
    .balign 16
    /* Vectors with a CPU-pushed error code: #DF #TS #NP #SS #GP #PF #AC #CP #VC #SX. */
    .if (vector == 8) || (vector >= 10 && vector <= 14) || (vector == 17) || (vector == 21) || (vector == 29) || (vector == 30)
    .else
    pushq   $0
    .endif
    pushq   $vector
    jmp     trap_common
    .set vector, vector + 1
.endr

trap_common:
    push    %rax
    push    %rbx
    push    %rcx
    push    %rdx
    push    %rsi
    push    %rdi
    push    %rbp
    push    %r8
    push    %r9
    push    %r10
    push    %r11
    push    %r12
    push    %r13
    push    %r14
    push    %r15
    cld
    /* The CPU aligned RSP to 16 before its 5-word frame; with the 2 words
     * pushed by the stub and 15 here the total is 22 words, so RSP is still
     * 16-byte aligned at the call, as the ABI requires. */
    mov     %rsp, %rdi
    call    trap_handler
    pop     %r15
    pop     %r14
    pop     %r13
    pop     %r12
    pop     %r11
    pop     %r10
    pop     %r9
    pop     %r8
    pop     %rbp
    pop     %rdi
    pop     %rsi
    pop     %rdx
    pop     %rcx
    pop     %rbx
    pop     %rax
    add     $16, %rsp               /* vector and error code */
    iretq

.balign 16
.global irq_stubs
irq_stubs:
.set vector, 32
.rept 224
    .balign 16
    pushq   $vector                 /* at most 5 bytes (imm32 from 128 on) + jmp rel32: fits 16 */
    jmp     irq_common
    .set vector, vector + 1
.endr

/* The 9 general registers the System V ABI lets a callee clobber, saved
 * around a call into Rust from code that did not expect one. */
.macro push_caller_saved
    push    %rax
    push    %rcx
    push    %rdx
    push    %rsi
    push    %rdi
    push    %r8
    push    %r9
    push    %r10
    push    %r11
.endm

.macro pop_caller_saved
    pop     %r11
    pop     %r10
    pop     %r9
    pop     %r8
    pop     %rdi
    pop     %rsi
    pop     %rdx
    pop     %rcx
    pop     %rax
.endm

/* Size of the fxsave64 area below the saved registers (512, plus 8 to realign). */
.set IRQ_FXSAVE_SPACE, 520

irq_common:
    push_caller_saved
    /* 5 CPU words + vector + 9 registers = 15 words: RSP = 8 (mod 16), so
     * 520 more bytes make it 16-aligned, as fxsave64 and the call need. */
    sub     $IRQ_FXSAVE_SPACE, %rsp
    fxsave64 (%rsp)
    cld
    mov     IRQ_FXSAVE_SPACE + 9*8(%rsp), %rdi          /* vector */
    lea     IRQ_FXSAVE_SPACE + 10*8(%rsp), %rsi         /* &InterruptFrame (RIP, CS, ...) */
    call    irq_handler
    fxrstor64 (%rsp)
    add     $IRQ_FXSAVE_SPACE, %rsp
    pop_caller_saved
    add     $8, %rsp                /* vector */
    iretq

/*
 * u64 rdmsr_safe(u32 msr [edi], u64 *value [rsi]) -> 0 on success, 1 if the
 * rdmsr raised #GP (then *value is untouched).
 * u64 wrmsr_safe(u32 msr [edi], u64 value [rsi]) -> 0 / 1 likewise.
 *
 * trap_handler recognises a #GP whose RIP is msr_safe_rdmsr or msr_safe_wrmsr,
 * sets the saved R8 to 1 and resumes 2 bytes later (both instructions are
 * 2 bytes long), like boot.S's PVM probe does.
 */
/* Stack on entry: RSP -> interrupted RIP, then interrupted RFLAGS. With RBP
 * pushed on top, [RBP + 8] is the interrupted RIP: backtraces walk through. */
.balign 16
.global preempt_trampoline
preempt_trampoline:
    push    %rbp
    mov     %rsp, %rbp
    push_caller_saved
    and     $-16, %rsp              /* the interrupted RSP may have any alignment */
    sub     $512, %rsp
    fxsave64 (%rsp)
    cld
    call    ferrite_preempt_irq
    fxrstor64 (%rsp)
    lea     -9*8(%rbp), %rsp
    pop_caller_saved
    pop     %rbp
    pushq   8(%rsp)                 /* the interrupted RFLAGS, above its RIP */
    popfq
    ret     $8                      /* to the interrupted RIP, dropping RFLAGS */

.global rdmsr_safe
rdmsr_safe:
    mov     %edi, %ecx
    xor     %r8d, %r8d
    xor     %eax, %eax
    xor     %edx, %edx
.global msr_safe_rdmsr
msr_safe_rdmsr:
    rdmsr
    test    %r8, %r8
    jnz     1f
    shl     $32, %rdx
    or      %rdx, %rax
    mov     %rax, (%rsi)
1:
    mov     %r8, %rax
    ret

.global wrmsr_safe
wrmsr_safe:
    mov     %edi, %ecx
    mov     %rsi, %rax
    mov     %rsi, %rdx
    shr     $32, %rdx
    xor     %r8d, %r8d
.global msr_safe_wrmsr
msr_safe_wrmsr:
    wrmsr
    mov     %r8, %rax
    ret

.popsection

/*
 * Per-CPU trap stacks: 64 KiB per CPU, CPU i's block at
 * trap_stacks + (i << TRAP_STACKS_SHIFT) (layout in trap.rs).  They live in the
 * NOBITS section `.boot_stack`, which linker.ld places after .bss and inside
 * the kernel image: boot.S does not zero it (stacks need no zeroing) and the
 * pages of unused CPUs are never touched (on PVM a first touch costs ~4.5 us).
 */
.pushsection .boot_stack, "aw", @nobits
.balign 4096
.global trap_stacks
trap_stacks:
    .skip TRAP_MAX_CPUS << TRAP_STACKS_SHIFT
.global trap_stacks_end
trap_stacks_end:
.popsection
