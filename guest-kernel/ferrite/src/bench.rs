//! `bench=pio`: a port-I/O exit round-trip benchmark driven by the host.
//!
//! Protocol on the serial line: the kernel prints `bench pio ready`, then for
//! every `g` it receives it executes `pio_batch` one-byte `out`s to port 0x80
//! (each a VM exit that the VMM must handle) and answers with one `k`; `q`
//! ends the VM with status 0; other bytes are ignored. The host times g->k.

use core::arch::asm;

use crate::{exit, println, serial};

/// Port 0x80: the legacy POST-code port, harmless to write, handled by every VMM.
const POST_PORT: u16 = 0x80;
pub const DEFAULT_PIO_BATCH: u64 = 10_000;

pub fn pio(batch: u64) -> ! {
    println!("bench pio: pio_batch={batch}");
    println!("bench pio ready");
    loop {
        match serial::read_byte() {
            b'g' => {
                out_burst(batch);
                serial::write_byte(b'k');
            }
            b'q' => exit::exit(0),
            _ => {}
        }
    }
}

/// `count` back-to-back `out` instructions: nothing but the exits is measured.
fn out_burst(count: u64) {
    for _ in 0..count {
        // SAFETY: writing a POST code to port 0x80 has no effect on the guest.
        unsafe {
            asm!("out dx, al", in("dx") POST_PORT, in("al") 0u8, options(nomem, nostack, preserves_flags))
        };
    }
}
