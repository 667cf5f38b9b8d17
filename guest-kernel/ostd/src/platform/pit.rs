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
//!
//! Ports, command bytes and the arithmetic of a gate: `x86hw::pit`.

use x86hw::pit::{
    self, CHANNEL0, CHANNEL2, Calibration, Channel, Gate, GateWatch, MAX_ATTEMPTS, PORT_B,
    PORT_COMMAND, Reading, START_COUNT,
};

use super::x86::rdtsc;
use crate::port::{inb, outb};

/// The TSC frequency in kHz, or `None` if there is no working PIT.
pub(crate) fn calibrate_tsc_khz() -> Option<u64> {
    // SAFETY: reading port B (0x61) has no side effect.
    let port_b = unsafe { inb(PORT_B) };
    let channel = if port_b == 0xff {
        CHANNEL0 // nothing decodes port 0x61: channel 2's gate cannot open
    } else {
        // SAFETY: opens channel 2's gate, speaker off; nothing else uses port B.
        unsafe { outb(PORT_B, pit::port_b_gate_open(port_b)) };
        CHANNEL2
    };
    let mut calibration = Calibration::new();
    for _ in 0..MAX_ATTEMPTS {
        let (first, last) = match gate(channel) {
            Gate::Measured(first, last) => (first, last),
            // The vCPU was held up for a whole count (a busy host, e.g.
            // several TCG vCPU threads on few cores): try again.
            Gate::Stalled => continue,
            Gate::NoPit => break,
        };
        if calibration.add(first, last) {
            break;
        }
    }
    if port_b != 0xff {
        // SAFETY: closes channel 2's gate again, speaker off.
        unsafe { outb(PORT_B, pit::port_b_gate_closed(port_b)) };
    }
    calibration.khz()
}

/// Starts `channel` at START_COUNT and reads it until the gate ends.
fn gate(channel: Channel) -> Gate {
    // SAFETY: programs the chosen PIT channel, which nothing else uses.
    unsafe {
        outb(PORT_COMMAND, channel.mode0_command());
        outb(channel.port, START_COUNT as u8);
        outb(channel.port, (START_COUNT >> 8) as u8);
    }
    let mut watch = GateWatch::new(read(channel));
    loop {
        if let Some(gate) = watch.next(read(channel)) {
            return gate;
        }
    }
}

fn read(channel: Channel) -> Reading {
    let tsc_before = rdtsc();
    // SAFETY: the latch command copies the channel's count into its output
    // latch; the two reads return it (low byte first) and release the latch.
    unsafe {
        outb(PORT_COMMAND, channel.latch_command());
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
