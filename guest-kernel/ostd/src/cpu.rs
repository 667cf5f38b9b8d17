//! Small privileged CPU operations.

use core::arch::asm;

/// Stops this CPU for good (interrupts off, then `hlt` in a loop).
pub(crate) fn halt_forever() -> ! {
    loop {
        // SAFETY: `cli; hlt` only stops this CPU; no memory is touched.
        unsafe { asm!("cli", "hlt", options(nomem, nostack)) };
    }
}

/// Makes the CPU triple-fault: with an IDT of limit 0 the `ud2` cannot be
/// delivered (#UD -> #GP -> #DF -> shutdown). A VMM sees a SHUTDOWN exit.
pub fn triple_fault() -> ! {
    let empty_idt = x86hw::descriptor::DescriptorTablePointer { limit: 0, base: 0 };
    // SAFETY: deliberately destroys this CPU's exception handling and then
    // faults; nothing runs afterwards, so no Rust invariant can be observed broken.
    unsafe {
        asm!("lidt [{}]", "ud2", in(reg) &empty_idt, options(noreturn, nostack));
    }
}

/// Reads CR2, the faulting address of the last page fault.
pub(crate) fn read_cr2() -> u64 {
    let cr2: u64;
    // SAFETY: reading CR2 has no side effects (on PVM it costs one exit).
    unsafe { asm!("mov {}, cr2", out(reg) cr2, options(nomem, nostack, preserves_flags)) };
    cr2
}

/// A canonical address that no boot page table maps (PML4 entry 0 maps only the first 4 GiB).
pub const UNMAPPED_ADDRESS: u64 = 0x0000_0010_0000_0000;

/// Reads [`UNMAPPED_ADDRESS`] to exercise the exception path (#PF -> panic).
pub fn touch_unmapped() -> ! {
    // SAFETY: the read faults before any value is produced, and the #PF
    // handler (trap.rs) never returns here, so no Rust code observes the read.
    unsafe { (UNMAPPED_ADDRESS as *const u8).read_volatile() };
    unreachable!("read of unmapped {UNMAPPED_ADDRESS:#x} did not fault")
}

/// Counts `iterations` down to zero in a register (`dec`/`jnz`): a loop of
/// known length whose time shows whether kernel code runs natively (~0.3 ns
/// an iteration) or in an instruction emulator.
pub fn count_down(iterations: u64) {
    // SAFETY: a register-only countdown; touches no memory and no flags the
    // compiler relies on.
    unsafe {
        asm!("2: dec {n}", "jnz 2b", n = inout(reg) iterations.max(1) => _, options(nomem, nostack))
    };
}
