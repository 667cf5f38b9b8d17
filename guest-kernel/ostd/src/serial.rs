//! The 16550 UART at I/O port 0x3f8 (COM1), polled: no interrupts.
//!
//! Register offsets from the 16550 data sheet; only what a polled console
//! needs. Every access is a VM exit, so output costs two exits per byte
//! (LSR poll + THR write).

use core::fmt;

use crate::port::{inb, outb};

const COM1: u16 = 0x3f8;

// Register offsets from the base port.
const RBR_THR: u16 = 0; // receive buffer (read) / transmit holding (write); DLL when DLAB=1
const IER: u16 = 1; // interrupt enable; DLM when DLAB=1
const LCR: u16 = 3; // line control
const MCR: u16 = 4; // modem control
const LSR: u16 = 5; // line status

const LCR_8N1: u8 = 0x03;
const LCR_DLAB: u8 = 0x80;
const MCR_DTR_RTS: u8 = 0x03;
const LSR_DR: u8 = 0x01; // data ready: RBR holds a byte
const LSR_THRE: u8 = 0x20; // transmit holding register empty

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
        outb(COM1 + RBR_THR, 1); // divisor 1 = 115200 baud
        outb(COM1 + IER, 0);
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
