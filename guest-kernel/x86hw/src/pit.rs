//! The 8254 programmable interval timer (Intel 8254 data sheet) and TSC
//! calibration against it: its ports and command bytes, and what a sequence
//! of count readings says about the TSC frequency.
//!
//! A channel counts down from 0xffff in mode 0; `ostd` reads its count
//! repeatedly (latch command, then two reads of the channel port), noting
//! the TSC around each latch command (the count is captured there), until
//! about 50 ms of PIT ticks passed ([`GateWatch`]): TSC ticks / PIT ticks
//! between the first and the last reading give the frequency. A gate whose
//! two latches took too long to be certain is repeated, and the most
//! certain gate is used ([`Calibration`]).

/// The PIT's input clock.
pub const PIT_HZ: u64 = 1_193_182;
const GATE_MS: u64 = 50;
/// PIT ticks per gate: 59659 (the count starts at 0xffff: ~4.9 ms of slack
/// before the first reading, so the counter never wraps within a gate).
pub const GATE_PIT_TICKS: u64 = PIT_HZ * GATE_MS / 1000;
/// The count each gate starts from.
pub const START_COUNT: u16 = 0xffff;
/// Gates to try before settling for the most certain one.
pub const MAX_ATTEMPTS: usize = 5;
/// Accept a gate whose TSC interval is known to within 1/TOLERANCE_DIVISOR.
const TOLERANCE_DIVISOR: u64 = 1000;
/// Give up waiting after this many TSC ticks (seconds at any plausible rate).
const TIMEOUT_TICKS: u64 = 1 << 35;

/// The mode/command register.
pub const PORT_COMMAND: u16 = 0x43;
/// Port B of the PC (NMI status and control): bit 0 gates channel 2, bit 1
/// drives the speaker from it. Reads as 0xff where nothing decodes it.
pub const PORT_B: u16 = 0x61;
const PORT_B_GATE2: u8 = 1 << 0;
const PORT_B_SPEAKER: u8 = 1 << 1;

/// Port B with channel 2's gate open and the speaker off.
pub const fn port_b_gate_open(port_b: u8) -> u8 {
    (port_b & !PORT_B_SPEAKER) | PORT_B_GATE2
}

/// Port B with channel 2's gate closed and the speaker off.
pub const fn port_b_gate_closed(port_b: u8) -> u8 {
    port_b & !(PORT_B_SPEAKER | PORT_B_GATE2)
}

/// A counter channel: its data port and its number in a command byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Channel {
    pub port: u16,
    /// Channel number in bits 7-6 of a command byte.
    select: u8,
}

/// Channel 0: its gate is always open; it raises IRQ 0 at the end of a count.
pub const CHANNEL0: Channel = Channel {
    port: 0x40,
    select: 0 << 6,
};
/// Channel 2: gated through port B, as on a PC.
pub const CHANNEL2: Channel = Channel {
    port: 0x42,
    select: 2 << 6,
};

impl Channel {
    /// Command byte (access in bits 5-4, mode in bits 3-1, BCD in bit 0):
    /// lobyte/hibyte access, mode 0 (interrupt on terminal count), binary.
    pub const fn mode0_command(self) -> u8 {
        self.select | 0b11 << 4
    }

    /// Command byte, access 00: latch this channel's count.
    pub const fn latch_command(self) -> u8 {
        self.select
    }
}

/// A count reading and the TSC interval around the latch that captured it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reading {
    pub count: u16,
    pub tsc_before: u64,
    pub tsc_after: u64,
}

impl Reading {
    /// The TSC at the latch, taken as the middle of the interval around it.
    pub const fn tsc(&self) -> u64 {
        self.tsc_before + (self.tsc_after - self.tsc_before) / 2
    }
}

/// How a gate ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// A reading just after the start and one at least GATE_PIT_TICKS later.
    Measured(Reading, Reading),
    /// The count went up: it wrapped while this vCPU did not run for ~55 ms.
    /// Worth another try.
    Stalled,
    /// The channel does not count (no PIT: reads return all-ones) within
    /// TIMEOUT_TICKS.
    NoPit,
}

/// Follows one gate, reading by reading.
pub struct GateWatch {
    first: Reading,
    previous: Reading,
}

impl GateWatch {
    /// A gate whose first reading, just after the start, is `first`.
    pub const fn new(first: Reading) -> Self {
        Self {
            first,
            previous: first,
        }
    }

    /// The next reading: how the gate ended, or `None` to read on.
    pub fn next(&mut self, now: Reading) -> Option<Gate> {
        if now.count > self.previous.count {
            // Counting (a missing PIT reads all-ones, never more than
            // before), but wrapped: this vCPU did not run for a whole count.
            return Some(Gate::Stalled);
        }
        if now.tsc_after - self.first.tsc_before > TIMEOUT_TICKS {
            return Some(Gate::NoPit); // stuck
        }
        if u64::from(self.first.count - now.count) >= GATE_PIT_TICKS {
            return Some(Gate::Measured(self.first, now));
        }
        self.previous = now;
        None
    }
}

/// The measured gates of one calibration.
#[derive(Default)]
pub struct Calibration {
    /// (kHz, uncertainty in TSC ticks) of the most certain gate so far.
    best: Option<(u64, u64)>,
}

impl Calibration {
    pub const fn new() -> Self {
        Self { best: None }
    }

    /// Adds a measured gate; returns true once it is certain enough to stop.
    pub fn add(&mut self, first: Reading, last: Reading) -> bool {
        let tsc_ticks = last.tsc() - first.tsc();
        let pit_ticks = u64::from(first.count - last.count);
        // Each reading's TSC is the middle of its latch, off by at most half of it.
        let uncertainty =
            (first.tsc_after - first.tsc_before + last.tsc_after - last.tsc_before) / 2;
        let khz = tsc_ticks * PIT_HZ / (pit_ticks * 1000);
        if self.best.is_none_or(|(_, u)| uncertainty < u) {
            self.best = Some((khz, uncertainty));
        }
        uncertainty * TOLERANCE_DIVISOR <= tsc_ticks
    }

    /// The TSC frequency in kHz from the most certain gate, if any.
    pub fn khz(&self) -> Option<u64> {
        self.best.map(|(khz, _)| khz)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_bytes() {
        // 8254 data sheet, control word format: SC1 SC0 RW1 RW0 M2 M1 M0 BCD.
        assert_eq!(CHANNEL0.mode0_command(), 0x30);
        assert_eq!(CHANNEL2.mode0_command(), 0xb0);
        assert_eq!(CHANNEL0.latch_command(), 0x00);
        assert_eq!(CHANNEL2.latch_command(), 0x80);
        assert_eq!((CHANNEL0.port, CHANNEL2.port), (0x40, 0x42));
    }

    #[test]
    fn port_b_gate() {
        assert_eq!(port_b_gate_open(0x02), 0x01);
        assert_eq!(port_b_gate_open(0x20), 0x21);
        assert_eq!(port_b_gate_closed(0x23), 0x20);
    }

    /// A reading at PIT tick `t` of a TSC at `khz`, whose latch took `latch` TSC ticks.
    fn at(t: u64, khz: u64, latch: u64) -> Reading {
        let tsc = 1_000_000 + t * khz * 1000 / PIT_HZ;
        Reading {
            count: (u64::from(START_COUNT) - t) as u16,
            tsc_before: tsc - latch / 2,
            tsc_after: tsc + latch / 2,
        }
    }

    #[test]
    fn a_gate_ends_after_50_ms_of_pit_ticks() {
        let mut watch = GateWatch::new(at(10, 2_000_000, 100));
        assert_eq!(watch.next(at(1000, 2_000_000, 100)), None);
        assert_eq!(watch.next(at(GATE_PIT_TICKS, 2_000_000, 100)), None);
        let last = at(GATE_PIT_TICKS + 10, 2_000_000, 100);
        assert_eq!(
            watch.next(last),
            Some(Gate::Measured(at(10, 2_000_000, 100), last))
        );
    }

    #[test]
    fn a_wrapped_or_stuck_count_ends_the_gate() {
        let mut watch = GateWatch::new(at(10, 2_000_000, 100));
        assert_eq!(watch.next(at(5, 2_000_000, 100)), Some(Gate::Stalled));
        let stuck = Reading {
            count: 0xffff,
            tsc_before: 0,
            tsc_after: 0,
        };
        let mut watch = GateWatch::new(stuck);
        assert_eq!(watch.next(stuck), None);
        let late = Reading {
            tsc_after: TIMEOUT_TICKS + 1,
            ..stuck
        };
        assert_eq!(watch.next(late), Some(Gate::NoPit));
    }

    #[test]
    fn calibration_keeps_the_most_certain_gate() {
        let mut calibration = Calibration::new();
        assert_eq!(calibration.khz(), None);
        // A latch of 1 ms at 2 GHz (2,000,000 ticks) in a 50 ms gate: too uncertain.
        let (first, last) = (
            at(0, 2_500_000, 2_000_000),
            at(GATE_PIT_TICKS, 2_500_000, 2_000_000),
        );
        assert!(!calibration.add(first, last));
        let coarse = calibration.khz().unwrap();
        assert!(coarse.abs_diff(2_500_000) < 100, "{coarse}");
        // A short latch: certain, and preferred.
        let (first, last) = (at(0, 2_000_000, 100), at(GATE_PIT_TICKS, 2_000_000, 100));
        assert!(calibration.add(first, last));
        let khz = calibration.khz().unwrap();
        assert!(khz.abs_diff(2_000_000) < 100, "{khz}");
        // A less certain gate afterwards does not replace it.
        calibration.add(at(0, 3_000_000, 4000), at(GATE_PIT_TICKS, 3_000_000, 4000));
        assert_eq!(calibration.khz(), Some(khz));
    }
}
