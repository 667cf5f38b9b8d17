//! The IOAPIC(s): all redirection entries masked at boot; `route` points one
//! input (GSI) at a vector on one CPU. Registers are reached indirectly:
//! write the index to IOREGSEL (base + 0), then access IOWIN (base + 0x10).
//! QEMU's microvm has a second IOAPIC at 0xfec10000 (its virtio-mmio inputs,
//! GSI 24..47); panvm (KVM's in-kernel irqchip) has one at 0xfec00000.
//! Only used in interrupt mode. (Register layouts and encodings: `x86hw::ioapic`.)

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use x86hw::ioapic::{self, BASES, IOREGSEL, IOWIN, REG_VERSION, RedirectionEntry};

use super::x86::{mmio_read32, mmio_write32};
use crate::println;

/// Inputs per IOAPIC (0 = absent), in GSI order.
static PINS: [AtomicU32; BASES.len()] = [const { AtomicU32::new(0) }; BASES.len()];
/// Serialises IOREGSEL/IOWIN pairs.
static LOCK: AtomicBool = AtomicBool::new(false);

fn with_lock<T>(f: impl FnOnce() -> T) -> T {
    while LOCK
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        core::hint::spin_loop();
    }
    let result = f();
    LOCK.store(false, Ordering::Release);
    result
}

fn read(base: u64, reg: u32) -> u32 {
    // SAFETY: `base` is an IOAPIC register window in the identity map
    // (uncached top GiB); selecting a register and reading it has no other
    // effect. Callers hold LOCK, so the select/access pair is not interleaved.
    unsafe {
        mmio_write32(base + IOREGSEL, reg);
        mmio_read32(base + IOWIN)
    }
}

fn write(base: u64, reg: u32, value: u32) {
    // SAFETY: as in `read`; the values written are redirection entries
    // composed by `x86hw::ioapic::RedirectionEntry`.
    unsafe {
        mmio_write32(base + IOREGSEL, reg);
        mmio_write32(base + IOWIN, value);
    }
}

/// Finds the IOAPICs and masks every input.
pub fn init() {
    for (i, &base) in BASES.iter().enumerate() {
        let Some(pins) = ioapic::pins_from_version(with_lock(|| read(base, REG_VERSION))) else {
            continue; // nothing there
        };
        with_lock(|| {
            for pin in 0..pins {
                let (low, high) = ioapic::redirection_regs(pin);
                write(base, low, RedirectionEntry::MASKED.low());
                write(base, high, RedirectionEntry::MASKED.high());
            }
        });
        PINS[i].store(pins, Ordering::Relaxed);
        println!("ioapic: {base:#x}, {pins} inputs, all masked");
    }
}

/// The IOAPIC base and pin of input `gsi`, if an IOAPIC has it.
fn locate(gsi: u32) -> Option<(u64, u32)> {
    let pins = PINS.iter().map(|p| p.load(Ordering::Relaxed));
    ioapic::locate(gsi, pins).map(|(index, pin)| (BASES[index], pin))
}

/// Delivers input `gsi` as `vector` to the CPU with APIC id `apic_id`
/// (fixed delivery, physical destination; level-triggered and active-low if
/// asked). Returns false if no IOAPIC has that input.
pub(crate) fn route(gsi: u32, vector: u8, apic_id: u32, level: bool, active_low: bool) -> bool {
    let Some((base, pin)) = locate(gsi) else {
        return false;
    };
    let entry = RedirectionEntry {
        vector,
        dest: apic_id as u8, // xAPIC ids: 8 bits
        level,
        active_low,
        masked: false,
    };
    let (low, high) = ioapic::redirection_regs(pin);
    // The destination first: the low word unmasks.
    with_lock(|| {
        write(base, high, entry.high());
        write(base, low, entry.low());
    });
    true
}

