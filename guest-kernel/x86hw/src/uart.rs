//! The 16550 UART (National Semiconductor PC16550D data sheet): register
//! offsets from its base port, and the bits a polled console needs.

/// COM1's base port on a PC.
pub const COM1: u16 = 0x3f8;

/// Receive buffer (read) / transmit holding (write); divisor latch low when DLAB=1.
pub const RBR_THR: u16 = 0;
/// Interrupt enable; divisor latch high when DLAB=1.
pub const IER: u16 = 1;
/// Line control.
pub const LCR: u16 = 3;
/// Modem control.
pub const MCR: u16 = 4;
/// Line status.
pub const LSR: u16 = 5;

/// 8 data bits, no parity, 1 stop bit.
pub const LCR_8N1: u8 = 0x03;
/// Divisor latch access: offsets 0 and 1 reach the baud-rate divisor.
pub const LCR_DLAB: u8 = 0x80;
pub const MCR_DTR_RTS: u8 = 0x03;
/// Data ready: RBR holds a byte.
pub const LSR_DR: u8 = 0x01;
/// Transmit holding register empty.
pub const LSR_THRE: u8 = 0x20;

/// The divisor for `baud` from the UART's 1.8432 MHz clock (16 samples a bit).
pub const fn divisor(baud: u32) -> u16 {
    (115_200 / baud) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn divisors_from_the_data_sheet() {
        // Table VI (1.8432 MHz crystal): 115200 -> 1, 9600 -> 12, 50 -> 2304.
        assert_eq!(divisor(115_200), 1);
        assert_eq!(divisor(9600), 12);
        assert_eq!(divisor(50), 2304);
    }
}
