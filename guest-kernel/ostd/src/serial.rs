//! The 16550 UART at I/O port 0x3f8 (COM1), polled: no interrupts.
//!
//! Register offsets and bits: `x86hw::uart`; only what a polled console
//! needs. Every access is a VM exit, so output costs two exits per byte
//! (LSR poll + THR write).

use core::fmt;

use x86hw::uart::{
    COM1, IER, LCR, LCR_8N1, LCR_DLAB, LSR, LSR_DR, LSR_THRE, MCR, MCR_DTR_RTS, RBR_THR,
};

use crate::port::{inb, outb};

/// Puts COM1 into 115200 8N1 with interrupts off. Emulated UARTs ignore the
/// baud rate, but real-hardware-shaped init costs only a few exits.
///
/// The FIFO control register is deliberately left alone: enabling or
/// resetting the FIFOs discards received bytes, and a host may send input
/// (e.g. a whole benchmark script through a pipe) before the kernel is up.
pub fn init() {
    // SAFETY: these ports belong to COM1, which only this module drives.
    unsafe {
        outb(COM1 + IER, 0);
        outb(COM1 + LCR, LCR_DLAB);
        let [low, high] = x86hw::uart::divisor(115_200).to_le_bytes();
        outb(COM1 + RBR_THR, low); // the divisor latch, with DLAB
        outb(COM1 + IER, high);
        outb(COM1 + LCR, LCR_8N1);
        outb(COM1 + MCR, MCR_DTR_RTS);
    }
}

/// Sends one byte once the transmitter can take it.
pub fn write_byte(byte: u8) {
    // SAFETY: COM1 registers; reading LSR and writing THR have no effect
    // beyond the UART.
    unsafe {
        while inb(COM1 + LSR) & LSR_THRE == 0 {
            core::hint::spin_loop();
        }
        outb(COM1 + RBR_THR, byte);
    }
}

/// A received byte, if one is waiting.
pub fn try_read_byte() -> Option<u8> {
    // SAFETY: COM1 registers; reading RBR pops the byte we then return.
    unsafe { (inb(COM1 + LSR) & LSR_DR != 0).then(|| inb(COM1 + RBR_THR)) }
}

/// `fmt::Write` adapter; `\n` becomes `\r\n` for terminals.
pub struct Console;

impl fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for byte in s.bytes() {
            if byte == b'\n' {
                write_byte(b'\r');
            }
            write_byte(byte);
        }
        Ok(())
    }
}

#[doc(hidden)]
pub fn print_fmt(args: fmt::Arguments<'_>) {
    // The UART is polled and stateless, so there is no lock to take (one CPU,
    // no interrupts); concurrent writers would only interleave bytes.
    let _ = fmt::Write::write_fmt(&mut Console, args);
}

/// Prints to the serial console.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => ($crate::serial::print_fmt(format_args!($($arg)*)));
}

/// Prints a line to the serial console.
#[macro_export]
macro_rules! println {
    () => ($crate::print!("\n"));
    ($($arg:tt)*) => ($crate::serial::print_fmt(format_args!("{}\n", format_args!($($arg)*))));
}
