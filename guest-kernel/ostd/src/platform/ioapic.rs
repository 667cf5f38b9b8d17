//! The IOAPIC(s): all redirection entries masked at boot; `route` points one
//! input (GSI) at a vector on one CPU. Registers are reached indirectly:
//! write the index to IOREGSEL (base + 0), then access IOWIN (base + 0x10).
//! QEMU's microvm has a second IOAPIC at 0xfec10000 (its virtio-mmio inputs,
//! GSI 24..47); panvm (KVM's in-kernel irqchip) has one at 0xfec00000.
//! Only used in interrupt mode.

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use super::x86::{mmio_read32, mmio_write32};
use crate::println;

const BASES: [u64; 2] = [0xfec0_0000, 0xfec1_0000];
const IOREGSEL: u64 = 0x00;
const IOWIN: u64 = 0x10;
const REG_VERSION: u32 = 0x01;
const REG_REDIRECTION: u32 = 0x10; // entry i: low word 0x10 + 2i, high word 0x11 + 2i

const ENTRY_MASKED: u32 = 1 << 16;
const ENTRY_LEVEL: u32 = 1 << 15;
const ENTRY_ACTIVE_LOW: u32 = 1 << 13;

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
    // SAFETY: as in `read`; the values written are redirection entries this
    // module composes.
    unsafe {
        mmio_write32(base + IOREGSEL, reg);
        mmio_write32(base + IOWIN, value);
    }
}

/// Finds the IOAPICs and masks every input.
pub fn init() {
    for (i, &base) in BASES.iter().enumerate() {
        let version = with_lock(|| read(base, REG_VERSION));
        if version == u32::MAX || version == 0 {
            continue; // nothing there (a VMM reads unclaimed MMIO as all-ones)
        }
        let pins = (version >> 16 & 0xff) + 1;
        with_lock(|| {
            for pin in 0..pins {
                write(base, REG_REDIRECTION + 2 * pin, ENTRY_MASKED);
                write(base, REG_REDIRECTION + 2 * pin + 1, 0);
            }
        });
        PINS[i].store(pins, Ordering::Relaxed);
        println!("ioapic: {base:#x}, {pins} inputs, all masked");
    }
}

/// Delivers input `gsi` as `vector` to the CPU with APIC id `apic_id`
/// (fixed delivery, physical destination; level-triggered and active-low if
/// asked). Returns false if no IOAPIC has that input.
pub(crate) fn route(gsi: u32, vector: u8, apic_id: u32, level: bool, active_low: bool) -> bool {
    let mut first = 0;
    for (i, &base) in BASES.iter().enumerate() {
        let pins = PINS[i].load(Ordering::Relaxed);
        if pins == 0 {
            continue;
        }
        if gsi < first + pins {
            let pin = gsi - first;
            let mut low = u32::from(vector);
            if level {
                low |= ENTRY_LEVEL;
            }
            if active_low {
                low |= ENTRY_ACTIVE_LOW;
            }
            with_lock(|| {
                write(base, REG_REDIRECTION + 2 * pin + 1, apic_id << 24);
                write(base, REG_REDIRECTION + 2 * pin, low);
            });
            return true;
        }
        first += pins;
    }
    false
}

/// Masks input `gsi` again.
pub(crate) fn mask(gsi: u32) {
    let mut first = 0;
    for (i, &base) in BASES.iter().enumerate() {
        let pins = PINS[i].load(Ordering::Relaxed);
        if pins != 0 && gsi < first + pins {
            with_lock(|| write(base, REG_REDIRECTION + 2 * (gsi - first), ENTRY_MASKED));
            return;
        }
        first += pins;
    }
}
