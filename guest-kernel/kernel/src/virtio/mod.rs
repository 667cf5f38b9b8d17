//! virtio drivers: discovery of virtio-mmio transports, and the devices
//! behind them (block, entropy, network, console).
//!
//! | file | what |
//! | --- | --- |
//! | `mod.rs` | discovery at boot, the device registry, polling with a timeout |
//! | `transport.rs` | virtio-mmio registers, status handshake, features, queue setup |
//! | `queue.rs` | a split virtqueue in DMA memory, kick = publish + notify if asked |
//! | `dma.rs` | DMA memory: owned data buffers and device-shared regions |
//! | `irq.rs` | interrupt-driven completion (interrupt mode) |
//! | `blk.rs`, `rng.rs`, `net.rs`, `console.rs` | the drivers |
//!
//! Protocol logic without `unsafe` (command-line and ACPI discovery, ring
//! bookkeeping and checks, request formats, ARP/IPv4/ICMP, SHA-256) is in
//! the host-tested `virtio-core` crate.
//!
//! # Discovery
//!
//! Every `virtio_mmio.device=SIZE@ADDR:IRQ` on the command line (panvm
//! always; QEMU microvm with `acpi=off`). Without any, and if the loader
//! passed an ACPI RSDP (QEMU microvm's default), the ACPI tables are
//! searched for virtio-mmio devices instead. Nothing is probed otherwise:
//! without transports the kernel behaves as it did before drivers existed.
//! Transports of both virtio-mmio versions are driven: version 2 (modern;
//! panvm) and version 1 (legacy; QEMU's default), see `transport.rs`.
//! The first transport that answers the probe is remembered
//! ([`first_transport`]: the `mmio` exit benchmark reads its registers).
//! `virtio_queue_max=N` caps every queue at N entries (rounded down to a
//! power of two), to test full queues.
//!
//! # Completion: polling or interrupts
//!
//! Drivers find completions by reading the used rings (memory, no VM exit).
//! In polling mode -- the only one on a PVM host, where interrupts never
//! reach kernel mode (DESIGN.md) -- they ask devices for no interrupts
//! (`used_event` kept out of reach, or VRING_AVAIL_F_NO_INTERRUPT) and
//! waiting threads spin with `pause`. In interrupt mode virtio-blk asks for
//! an interrupt per batch of completions (event idx) and a thread with
//! nothing to poll sleeps in `hlt` until it comes (`irq.rs`); the interrupt
//! handler only acknowledges the device and counts, since handlers may not
//! take locks or wake threads. rng and net always poll. Either way waiting
//! threads pass `task::cond_resched` on each round, so other threads run.

pub mod blk;
pub mod console;
mod irq;
pub mod net;
mod queue;
pub mod rng;
mod transport;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use bootinfo::Cmdline;
use bootinfo::memmap::Memmap;
use ostd::firmware::FirmwareMemory;
use virtio_core::acpi;
use virtio_core::mmio::{self, DeviceType, MmioWindow};

use crate::sync::SpinLock;
use crate::{platform, println, task};

/// DMA buffers, from the framework.
pub use ostd::dma;

pub use transport::Transport;

/// Devices found at boot, by kind, in discovery order. A driver that uses
/// a device takes it out ([`claim`]) and puts it back when done.
pub struct Registry {
    blk: Vec<Option<blk::BlkDevice>>,
    rng: Vec<Option<rng::RngDevice>>,
    net: Vec<Option<net::NetDevice>>,
    console: Vec<Option<console::ConsoleDevice>>,
    /// The first transport that answered the probe, driven or not.
    first: Option<MmioWindow>,
}

static DEVICES: SpinLock<Registry> = SpinLock::new(Registry {
    blk: Vec::new(),
    rng: Vec::new(),
    net: Vec::new(),
    console: Vec::new(),
    first: None,
});

/// A kind of device in the registry.
pub trait Device: Sized + Send {
    const KIND: &'static str;
    fn slots(registry: &mut Registry) -> &mut Vec<Option<Self>>;
}

impl Device for blk::BlkDevice {
    const KIND: &'static str = "virtio-blk";
    fn slots(r: &mut Registry) -> &mut Vec<Option<Self>> {
        &mut r.blk
    }
}

impl Device for rng::RngDevice {
    const KIND: &'static str = "virtio-rng";
    fn slots(r: &mut Registry) -> &mut Vec<Option<Self>> {
        &mut r.rng
    }
}

impl Device for net::NetDevice {
    const KIND: &'static str = "virtio-net";
    fn slots(r: &mut Registry) -> &mut Vec<Option<Self>> {
        &mut r.net
    }
}

impl Device for console::ConsoleDevice {
    const KIND: &'static str = "virtio-console";
    fn slots(r: &mut Registry) -> &mut Vec<Option<Self>> {
        &mut r.console
    }
}

/// Exclusive use of a device; it goes back to the registry on drop.
pub struct Claimed<D: Device> {
    device: Option<D>,
    index: usize,
}

impl<D: Device> core::ops::Deref for Claimed<D> {
    type Target = D;
    fn deref(&self) -> &D {
        self.device
            .as_ref()
            .expect("claimed device present until drop")
    }
}

impl<D: Device> core::ops::DerefMut for Claimed<D> {
    fn deref_mut(&mut self) -> &mut D {
        self.device
            .as_mut()
            .expect("claimed device present until drop")
    }
}

impl<D: Device> Drop for Claimed<D> {
    fn drop(&mut self) {
        if let Some(device) = self.device.take() {
            D::slots(&mut DEVICES.lock())[self.index] = Some(device);
        }
    }
}

/// Takes device `index` of kind `D` for exclusive use.
pub fn claim<D: Device>(index: usize) -> Result<Claimed<D>, String> {
    let mut registry = DEVICES.lock();
    let slots = D::slots(&mut registry);
    let found = slots.len();
    match slots.get_mut(index) {
        None if found == 0 => Err(format!(
            "no {} device (none usable was found at boot)",
            D::KIND
        )),
        None => Err(format!("no {} device {index} ({found} found)", D::KIND)),
        Some(slot) => match slot.take() {
            Some(device) => Ok(Claimed {
                device: Some(device),
                index,
            }),
            None => Err(format!("{} device {index} is in use", D::KIND)),
        },
    }
}

/// Boot: finds the transports and brings up a driver for each device.
/// Prints one line per transport (nothing if there are none).
pub fn init(cmdline: &Cmdline<'_>, rsdp_pa: u64, memmap: &Memmap<'_>) {
    match cmdline.get_u64("virtio_queue_max") {
        Ok(Some(max)) => transport::set_queue_max(max.min(u64::from(u16::MAX)) as u16),
        Ok(None) => {}
        Err(e) => println!("virtio: ignoring {e}"),
    }
    let mut windows = Vec::new();
    for entry in mmio::devices_from_params(cmdline.params()) {
        match entry {
            Ok(window) => windows.push(window),
            Err(e) => println!("virtio: ignoring {e}"),
        }
    }
    if windows.is_empty() && rsdp_pa != 0 {
        match acpi::find_virtio_mmio(&FirmwareMemory { memmap }, rsdp_pa) {
            Ok(found) if !found.is_empty() => {
                println!(
                    "virtio: {} transport(s) described by ACPI (RSDP at {rsdp_pa:#x})",
                    found.len()
                );
                windows = found;
            }
            Ok(_) => {}
            Err(e) => {
                println!("virtio: ACPI tables unusable ({e}); no virtio-mmio devices from ACPI")
            }
        }
    }
    for window in windows {
        bring_up(window);
    }
}

fn bring_up(window: MmioWindow) {
    let transport = match Transport::probe(window) {
        Ok(t) => t,
        Err(e) => {
            println!(
                "virtio: {:#x} irq {}: skipped: {e}",
                window.base, window.irq
            );
            return;
        }
    };
    DEVICES.lock().first.get_or_insert(window);
    let kind = transport.device_type;
    let at = transport.describe();
    let result = match kind {
        DeviceType::Block => {
            blk::BlkDevice::new(transport).map(|d| register(kind, &at, d.describe(), d))
        }
        DeviceType::Entropy => {
            rng::RngDevice::new(transport).map(|d| register(kind, &at, d.describe(), d))
        }
        DeviceType::Net => {
            net::NetDevice::new(transport).map(|d| register(kind, &at, d.describe(), d))
        }
        DeviceType::Console => {
            console::ConsoleDevice::new(transport).map(|d| register(kind, &at, d.describe(), d))
        }
        other => {
            println!(
                "virtio: {} (device id {}) at {at}: no driver",
                other.name(),
                transport.device_id
            );
            Ok(())
        }
    };
    if let Err(e) = result {
        println!("virtio: {} at {at}: not usable: {e}", kind.name());
    }
}

/// Puts a device whose driver came up into the registry, with its boot line.
fn register<D: Device>(kind: DeviceType, at: &str, description: String, device: D) {
    println!("virtio: {} at {at} ({description})", kind.name());
    D::slots(&mut DEVICES.lock()).push(Some(device));
}

/// The window of the first virtio-mmio transport found at boot, if any.
pub fn first_transport() -> Option<MmioWindow> {
    DEVICES.lock().first
}

/// How long a driver waits for a device before calling it broken.
pub const DEVICE_TIMEOUT_NS: u64 = 30_000_000_000;

/// A polling wait with a deadline: `while !done { if !spin.spin() { timeout } }`.
/// Each round is a `pause` and a preemption point.
pub struct Spin {
    deadline: u64,
}

impl Spin {
    pub fn new(timeout_ns: u64) -> Self {
        Self {
            deadline: platform::now_ns().saturating_add(timeout_ns),
        }
    }

    /// One round of waiting; false once the deadline has passed.
    pub fn spin(&self) -> bool {
        core::hint::spin_loop();
        task::cond_resched();
        platform::now_ns() < self.deadline
    }
}
