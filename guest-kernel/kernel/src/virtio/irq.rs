//! Interrupt-driven completion, for interrupt mode on a host that delivers
//! interrupts to the kernel (hardware KVM, TCG; not PVM native mode).
//!
//! A driver [`IrqLine::attach`]es its transport: the transport's IOAPIC input
//! is routed to a device vector on the attaching CPU. The handler may not
//! take locks or wake threads (platform.rs), so it does the least the
//! virtio-mmio protocol asks (spec 4.2.2.1: read InterruptStatus, write it to
//! InterruptACK, which also lowers a level-triggered line) and bumps the
//! line's event counter. A driver with nothing to poll sleeps in `hlt` until
//! the counter moves ([`IrqLine::wait`]), instead of spinning.
//!
//! Race-free sleep: `wait` masks interrupts, compares the counter with what
//! the caller saw before its last look at the used ring, and only then runs
//! `sti; hlt` -- `sti` takes effect after the next instruction, so an
//! interrupt that arrives in between wakes the `hlt`.

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

use virtio_core::mmio::reg;

use ostd::io::IoMem;

use super::Transport;
use crate::{percpu, platform};

/// Transports that can use interrupts at once (line N has device vector
/// `DEVICE_VECTOR_BASE + N`).
const LINES: usize = 8;

/// MMIO base of line N's transport (0: unused).
static BASES: [AtomicU64; LINES] = [const { AtomicU64::new(0) }; LINES];
/// Interrupts line N has taken.
static EVENTS: [AtomicU64; LINES] = [const { AtomicU64::new(0) }; LINES];
static NEXT_LINE: AtomicUsize = AtomicUsize::new(0);

/// Acknowledges the interrupt of the line that owns `vector`, and counts it.
fn handler(vector: u8) {
    let line = usize::from(vector - platform::DEVICE_VECTOR_BASE);
    let base = BASES[line].load(Relaxed);
    if base == 0 {
        return;
    }
    // The registers this handler touches, at the start of every
    // virtio-mmio window (`attach` stored a probed transport's base).
    let Some(regs) = IoMem::new(base, (reg::INTERRUPT_ACK + 4) as u64) else {
        return;
    };
    regs.write32(reg::INTERRUPT_ACK, regs.read32(reg::INTERRUPT_STATUS));
    EVENTS[line].fetch_add(1, Relaxed);
}

/// A transport's interrupt, routed to one CPU.
pub struct IrqLine {
    line: usize,
    cpu: usize,
}

impl IrqLine {
    /// Routes `transport`'s interrupt to a handler on this CPU. None in
    /// polling mode, when interrupts are not delivered, or when no line or
    /// IOAPIC input is free: the driver then polls.
    pub fn attach(transport: &Transport) -> Option<Self> {
        if platform::irq_mode() != platform::IrqMode::Interrupt || !platform::interrupts_delivered()
        {
            return None;
        }
        let line = NEXT_LINE.fetch_add(1, Relaxed);
        if line >= LINES {
            return None;
        }
        let vector = platform::DEVICE_VECTOR_BASE + line as u8;
        let cpu = percpu::cpu_id();
        BASES[line].store(transport.regs().base(), Relaxed);
        platform::set_irq_handler(vector, handler);
        // Edge-triggered: panvm signals through an irqfd (a pulse); QEMU's
        // level line drops when the handler acknowledges, so each new
        // completion interrupt is a fresh edge.
        if !platform::route_irq(transport.window.irq, vector, cpu, false) {
            BASES[line].store(0, Relaxed);
            return None;
        }
        Some(Self { line, cpu })
    }

    /// Interrupts taken so far; pass the value read *before* looking at the
    /// used ring to [`Self::wait`].
    pub fn events(&self) -> u64 {
        EVENTS[self.line].load(Relaxed)
    }

    /// Sleeps until an interrupt newer than `seen` arrives, or the next
    /// timer tick. Returns at once if one already did. On another CPU than
    /// the one the line is routed to, `hlt` could sleep through it: spins once.
    pub fn wait(&self, seen: u64) {
        // Interrupts off first: with them, preemption (which could move this
        // task to another CPU between the check and the `hlt`).
        let was_enabled = platform::disable_interrupts();
        if percpu::cpu_id() != self.cpu {
            platform::restore_interrupts(was_enabled);
            core::hint::spin_loop();
            return;
        }
        if self.events() == seen {
            platform::idle_wait();
        }
        platform::restore_interrupts(was_enabled);
    }
}
