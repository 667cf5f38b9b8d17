//! x86 port I/O (`in`/`out`). Each access is a VM exit: ~25 us on PVM.

use core::arch::asm;

/// Writes one byte to an I/O port.
///
/// # Safety
/// The caller must know what the device at `port` does with the write
/// (e.g. 0xf4 ends the VM); it cannot corrupt Rust-visible memory by itself.
pub(crate) unsafe fn outb(port: u16, value: u8) {
    // SAFETY: `out` touches no memory and no registers besides its operands;
    // the device-level effect is the caller's contract.
    unsafe {
        asm!("out dx, al", in("dx") port, in("al") value, options(nomem, nostack, preserves_flags))
    };
}

/// Reads one byte from an I/O port.
///
/// # Safety
/// As for [`outb`]: reads can have device side effects (e.g. popping a FIFO).
pub(crate) unsafe fn inb(port: u16) -> u8 {
    let value: u8;
    // SAFETY: `in` touches no memory; device effects are the caller's contract.
    unsafe {
        asm!("in al, dx", in("dx") port, out("al") value, options(nomem, nostack, preserves_flags))
    };
    value
}

/// The legacy POST-code port: writing it has no effect on the machine.
const POST_PORT: u16 = 0x80;

/// Writes `code` to the POST-code port (0x80): a port-I/O exit with no
/// effect, for timing exits.
pub fn post_code(code: u8) {
    // SAFETY: port 0x80 only displays a POST code; no device state changes.
    unsafe { outb(POST_PORT, code) }
}
