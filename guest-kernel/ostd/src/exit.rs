//! Ending the VM through the debug-exit port (QEMU's
//! `-device isa-debug-exit,iobase=0xf4,iosize=0x04`; panvm has the same port).
//! QEMU exits with `(status << 1) | 1`, panvm with `status`; 0 = success.

use crate::cpu;
use crate::port::outb;

const DEBUG_EXIT_PORT: u16 = 0xf4;

/// Ends the VM with `status`. Without a debug-exit device the write does
/// nothing, so the CPU is then parked forever.
pub fn exit(status: u8) -> ! {
    // SAFETY: writing port 0xf4 either stops the VM or is ignored.
    unsafe { outb(DEBUG_EXIT_PORT, status) };
    cpu::halt_forever()
}
