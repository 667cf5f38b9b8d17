/*
 * trap.S -- CPU exception entry stubs (vectors 0..31).
 *
 * Each stub is 16 bytes apart (trap.rs computes `trap_stubs + 16 * vector`):
 * it pushes a dummy error code when the CPU pushes none, then the vector
 * number, and joins trap_common, which saves the general registers into a
 * TrapFrame (trap.rs) and calls trap_handler(&mut TrapFrame).
 */

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

.popsection
