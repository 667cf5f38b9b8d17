//! TSC calibration against the 8254 PIT (1.193182 MHz).
//!
//! A PIT channel counts down from 0xffff in mode 0; the kernel reads its count
//! twice, ~50 ms apart (latch command, then two reads of the channel port), and
//! notes the TSC around each latch command (the count is captured there):
//! TSC ticks / PIT ticks between the two readings give the frequency.
//!
//! Each port access is an exit (~2-3 us in KVM's own PIT, ~25-70 us through a
//! VMM). Reading the count, rather than polling for the end of the count on the
//! OUT pin, keeps the error at the *jitter* of one exit rather than the length
//! of a poll (measured under QEMU/KVM on PVM: +-0.14 % per 50 ms gate when
//! polling OUT). A vCPU that the host deschedules inside the latch exit widens
//! the interval in which the count was taken (seen: 11 ms, while panvm's JVM
//! was starting); a gate whose two latches took more than 0.1 % of the gate
//! is repeated (at most MAX_ATTEMPTS), and the most certain one is used. So
//! is a gate in which the count wrapped because the vCPU did not run for a
//! whole count (seen under TCG with several vCPU threads on a busy host).
//!
//! Channel 2, gated through port 0x61 as on a PC, when port 0x61 exists
//! (panvm: KVM's PIT with its dummy speaker port); else channel 0, whose gate
//! is always open (QEMU's microvm has a PIT but no port 0x61). Channel 0
//! raises IRQ 0 once at the end of its count (~55 ms); interrupts are off
//! during boot, and the IOAPIC (and in interrupt mode the 8259) keep it masked.

use crate::port::{inb, outb};

use super::x86::rdtsc;

const PIT_HZ: u64 = 1_193_182;
const GATE_MS: u64 = 50;
/// PIT ticks per gate: 59659 (the count starts at 0xffff: ~4.9 ms of slack
/// before the first reading, so the counter never wraps within a gate).
const GATE_PIT_TICKS: u64 = PIT_HZ * GATE_MS / 1000;
const START_COUNT: u16 = 0xffff;
const MAX_ATTEMPTS: usize = 5;
/// Accept a gate whose TSC interval is known to within 1/TOLERANCE_DIVISOR.
const TOLERANCE_DIVISOR: u64 = 1000;
/// Give up waiting after this many TSC ticks (seconds at any plausible rate).
const TIMEOUT_TICKS: u64 = 1 << 35;

const PORT_COMMAND: u16 = 0x43;
const PORT_B: u16 = 0x61; // NMI status and control: bit 0 gate 2, bit 1 speaker
const PORT_B_GATE2: u8 = 1 << 0;
const PORT_B_SPEAKER: u8 = 1 << 1;
// Command byte (port 0x43): channel in bits 7-6, access in bits 5-4, mode in
// bits 3-1, BCD in bit 0.
/// Lobyte/hibyte access, mode 0 (interrupt on terminal count), binary.
const CMD_LOHI_MODE0: u8 = 0b11 << 4;
/// Access 00: latch the count of the selected channel.
const CMD_LATCH: u8 = 0;

#[derive(Clone, Copy)]
struct Channel {
    port: u16,
    /// Channel number in bits 7-6 of a command byte.
    select: u8,
}

const CHANNEL0: Channel = Channel {
    port: 0x40,
    select: 0 << 6,
};
const CHANNEL2: Channel = Channel {
    port: 0x42,
    select: 2 << 6,
};

/// A count reading and the TSC interval around the latch that captured it.
#[derive(Clone, Copy)]
struct Reading {
    count: u16,
    tsc_before: u64,
    tsc_after: u64,
}

impl Reading {
    fn tsc(&self) -> u64 {
        self.tsc_before + (self.tsc_after - self.tsc_before) / 2
    }
}

/// The TSC frequency in kHz, or `None` if there is no working PIT.
pub(crate) fn calibrate_tsc_khz() -> Option<u64> {
    // SAFETY: reading port B (0x61) has no side effect.
    let port_b = unsafe { inb(PORT_B) };
    let channel = if port_b == 0xff {
        CHANNEL0 // nothing decodes port 0x61: channel 2's gate cannot open
    } else {
        // SAFETY: opens channel 2's gate, speaker off; nothing else uses port B.
        unsafe { outb(PORT_B, (port_b & !PORT_B_SPEAKER) | PORT_B_GATE2) };
        CHANNEL2
    };
    // (khz, uncertainty in TSC ticks) of the most certain gate so far
    let mut best: Option<(u64, u64)> = None;
    for _ in 0..MAX_ATTEMPTS {
        let (first, last) = match gate(channel) {
            Gate::Measured(first, last) => (first, last),
            // The vCPU was held up for a whole count (a busy host, e.g.
            // several TCG vCPU threads on few cores): try again.
            Gate::Stalled => continue,
            Gate::NoPit => break,
        };
        let tsc_ticks = last.tsc() - first.tsc();
        let pit_ticks = u64::from(first.count - last.count);
        // Each reading's TSC is the middle of its latch exit, off by at most half of it.
        let uncertainty =
            (first.tsc_after - first.tsc_before + last.tsc_after - last.tsc_before) / 2;
        let khz = tsc_ticks * PIT_HZ / (pit_ticks * 1000);
        if best.is_none_or(|(_, u)| uncertainty < u) {
            best = Some((khz, uncertainty));
        }
        if uncertainty * TOLERANCE_DIVISOR <= tsc_ticks {
            break;
        }
    }
    if port_b != 0xff {
        // SAFETY: closes channel 2's gate again, speaker off.
        unsafe { outb(PORT_B, port_b & !(PORT_B_SPEAKER | PORT_B_GATE2)) };
    }
    best.map(|(khz, _)| khz)
}

enum Gate {
    /// A reading just after the start and one at least GATE_PIT_TICKS later.
    Measured(Reading, Reading),
    /// The count went up: it wrapped while this vCPU did not run for ~55 ms.
    /// Worth another try.
    Stalled,
    /// The channel does not count (no PIT: reads return all-ones) within
    /// TIMEOUT_TICKS.
    NoPit,
}

/// Starts `channel` at START_COUNT and reads it until GATE_PIT_TICKS passed.
fn gate(channel: Channel) -> Gate {
    // SAFETY: programs the chosen PIT channel, which nothing else uses.
    unsafe {
        outb(PORT_COMMAND, channel.select | CMD_LOHI_MODE0);
        outb(channel.port, START_COUNT as u8);
        outb(channel.port, (START_COUNT >> 8) as u8);
    }
    let first = read(channel);
    let mut previous = first;
    loop {
        let now = read(channel);
        if now.count > previous.count {
            // Counting (a missing PIT reads all-ones, never more than
            // before), but wrapped: this vCPU did not run for a whole count.
            return Gate::Stalled;
        }
        if now.tsc_after - first.tsc_before > TIMEOUT_TICKS {
            return Gate::NoPit; // stuck
        }
        if u64::from(first.count - now.count) >= GATE_PIT_TICKS {
            return Gate::Measured(first, now);
        }
        previous = now;
    }
}

fn read(channel: Channel) -> Reading {
    let tsc_before = rdtsc();
    // SAFETY: the latch command copies the channel's count into its output
    // latch; the two reads return it (low byte first) and release the latch.
    unsafe {
        outb(PORT_COMMAND, channel.select | CMD_LATCH);
        let tsc_after = rdtsc();
        let low = inb(channel.port);
        let high = inb(channel.port);
        Reading {
            count: u16::from_le_bytes([low, high]),
            tsc_before,
            tsc_after,
        }
    }
}
