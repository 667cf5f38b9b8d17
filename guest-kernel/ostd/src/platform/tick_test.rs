//! `test=tick [tick_hz=N]` (default 100): boot-CPU self-test of interrupt
//! mode, run from `init_bsp`. Starts the tick, idles for 200 ms measured with
//! `now_ns`, prints the measured tick rate, then sends itself a reschedule
//! IPI. Exit status 0 if ticks and the IPI arrived (or, where interrupts are
//! not delivered -- PVM native mode with `irq=intr`, and polling mode --
//! nothing hung); 1 otherwise. The rate itself is printed, not judged.

use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

use bootinfo::Cmdline;

use super::{DELIVERED, IrqMode, RESCHEDULE_VECTOR, TIMER_VECTOR, apic};
use crate::exit::exit;
use crate::println;

const WINDOW_NS: u64 = 200_000_000;
const IPI_WAIT_NS: u64 = 10_000_000;

static HANDLER_TICKS: AtomicU64 = AtomicU64::new(0);
static HANDLER_IPIS: AtomicU64 = AtomicU64::new(0);

fn on_tick() {
    HANDLER_TICKS.fetch_add(1, Relaxed);
}

fn on_ipi() {
    HANDLER_IPIS.fetch_add(1, Relaxed);
}

pub fn run(cmdline: &Cmdline<'_>) -> ! {
    let hz = cmdline
        .get_u64("tick_hz")
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or(100);
    assert!(
        (1..=100_000).contains(&hz),
        "tick_hz={hz}: expected 1..=100000"
    );
    let mode = super::irq_mode();
    println!(
        "test: tick at {hz} Hz for {} ms ({} mode)",
        WINDOW_NS / 1_000_000,
        mode.name()
    );
    if mode == IrqMode::Polling {
        println!("test: tick: polling mode has no tick (start_tick is a no-op)");
        super::start_tick(hz as u32);
        exit(0)
    }
    let delivered = DELIVERED.load(Relaxed);
    super::set_tick_handler(on_tick);
    super::set_ipi_handler(on_ipi);

    super::start_tick(hz as u32);
    let start = super::now_ns();
    let mut now = start;
    while now - start < WINDOW_NS {
        super::idle_wait();
        now = super::now_ns();
    }
    let ticks = HANDLER_TICKS.load(Relaxed);
    let pending_tick = !delivered && apic::pending(TIMER_VECTOR);
    super::stop_tick();
    let elapsed = now - start;
    let milli_hz = u128::from(ticks) * 1_000_000_000_000 / u128::from(elapsed);
    println!(
        "test: tick: {ticks} ticks in {}.{:03} ms = {}.{:03} Hz (requested {hz} Hz, counted {} by the platform)",
        elapsed / 1_000_000,
        elapsed / 1000 % 1000,
        milli_hz / 1000,
        milli_hz % 1000,
        super::tick_count(0)
    );

    super::send_reschedule_ipi(0);
    let sent = super::now_ns();
    while HANDLER_IPIS.load(Relaxed) == 0 && super::now_ns() - sent < IPI_WAIT_NS {
        super::idle_wait();
    }
    let ipis = HANDLER_IPIS.load(Relaxed);
    let pending_ipi = !delivered && apic::pending(RESCHEDULE_VECTOR);
    println!(
        "test: reschedule ipi to self: {}",
        if ipis > 0 { "received" } else { "not received" }
    );

    if !delivered {
        println!(
            "test: tick: interrupts are not delivered in PVM native mode (expected); \
             pending in the APIC: tick {}, ipi {}",
            if pending_tick { "yes" } else { "no" },
            if pending_ipi { "yes" } else { "no" }
        );
        exit(0)
    }
    exit(if ticks > 0 && ipis > 0 { 0 } else { 1 })
}
