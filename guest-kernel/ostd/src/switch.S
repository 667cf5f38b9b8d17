/*
 * switch.S -- kernel thread context switch.
 *
 * Switches happen only where Rust code calls ferrite_switch (cooperative
 * points: schedule(), blocking calls, cond_resched(), the idle loop), never
 * from an interrupt handler.  So only the System V callee-saved registers
 * need saving: rbx, rbp, r12-r15 and rsp.  All xmm registers are
 * caller-saved, so the compiler has already spilled any it needs across the
 * call; MXCSR and the x87 control word are callee-saved but no ferrite code
 * changes them, so every thread sees the same values and they stay put.
 */

.pushsection .text, "ax", @progbits

/*
 * void ferrite_switch(u64 *save_rsp, u64 next_rsp)
 *
 * Pushes the callee-saved registers on the current stack, stores RSP in
 * *save_rsp, loads next_rsp (a stack saved the same way, or built by
 * task.rs for a new thread) and returns into that context.
 */
.global ferrite_switch
ferrite_switch:
    push    %rbp
    push    %rbx
    push    %r12
    push    %r13
    push    %r14
    push    %r15
    mov     %rsp, (%rdi)
    mov     %rsi, %rsp
    pop     %r15
    pop     %r14
    pop     %r13
    pop     %r12
    pop     %rbx
    pop     %rbp
    ret

/*
 * First instructions of a new thread: ferrite_switch "returns" here with
 * r12 = entry, r13 = argument (task.rs builds that frame).  RSP is 16-byte
 * aligned; RBP = 0 ends frame-pointer backtraces.
 */
.global ferrite_thread_start
ferrite_thread_start:
    xor     %ebp, %ebp
    mov     %r12, %rdi
    mov     %r13, %rsi
    call    thread_main                 /* extern "C" fn(entry, arg) -> ! */
    ud2

.popsection
