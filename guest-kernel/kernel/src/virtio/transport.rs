//! One virtio-mmio transport (spec 4.2): register accesses, the status
//! handshake (spec 3.1.1), feature negotiation and queue setup.
//!
//! Both register layouts are driven, as Linux's `virtio_mmio.c` does:
//!
//! - version 2 (modern, spec 4.2.2; panvm): 64 feature bits with
//!   VIRTIO_F_VERSION_1 required, FEATURES_OK, each queue area's address
//!   in its own register pair, QueueReady, ConfigGeneration.
//! - version 1 (legacy, spec 4.2.4; QEMU's default): 32 feature bits, no
//!   FEATURES_OK step (the device takes what the driver writes), and each
//!   queue in one page-aligned block in the legacy layout
//!   (`Layout::legacy`: the used ring at the next QueueAlign boundary),
//!   announced by GuestPageSize (written once after the reset), QueueNum,
//!   QueueAlign and QueuePFN (the block's page number; nonzero = in use).
//!   Configuration fields are read without the generation check (there is
//!   no ConfigGeneration; Linux's `vm_generation` returns 0 too).
//!
//! Everything above the transport is the same for both (ring formats are
//! little-endian either way on x86), except virtio-net's header (`net.rs`).
//!
//! Every register access is a VM exit (~25 us on a PVM host), so drivers
//! touch registers only to set up and to notify; completions are found in
//! memory (the used rings). `exits()` counts the accesses.
//!
//! Windows are reached as `ostd::io::IoMem`: the kernel's uncached identity
//! map of the top GiB below 4 GiB.

use alloc::format;
use alloc::string::String;
use core::cell::Cell;
use core::sync::atomic::{AtomicU16, Ordering::Relaxed};

use virtio_core::mmio::{self, DeviceType, MmioWindow, Version, feature, reg, status};
use virtio_core::ring::{Layout, SplitQueue};

use ostd::dma::DmaRegion;
use ostd::io::{self, IoMem};

use super::queue::Virtqueue;

/// Queue sizes are capped here (QEMU's default is 256; a bigger ring only
/// costs memory for this driver's request counts). `virtio_queue_max=N` on
/// the command line lowers the cap (tests of full queues).
pub const MAX_QUEUE_SIZE: u16 = 256;
static QUEUE_MAX: AtomicU16 = AtomicU16::new(MAX_QUEUE_SIZE);

/// Lowers the queue size cap for every queue set up from now on.
pub fn set_queue_max(max: u16) {
    QUEUE_MAX.store(max.clamp(1, MAX_QUEUE_SIZE), Relaxed);
}
/// Status reads to wait for a reset to finish (each one a VM exit).
const RESET_POLLS: u32 = 1000;

/// Why a window is not driven.
pub enum ProbeError {
    Window(mmio::WindowError),
    BadMagic(u32),
    BadVersion(u32),
    /// Device id 0: a transport without a device behind it.
    NoDevice,
}

impl core::fmt::Display for ProbeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Window(e) => write!(f, "{e}"),
            Self::BadMagic(m) => write!(
                f,
                "bad magic {m:#010x} (expected {:#010x} \"virt\")",
                mmio::MAGIC
            ),
            Self::BadVersion(v) => write!(f, "unknown virtio-mmio version {v}"),
            Self::NoDevice => f.write_str("no device behind the transport (device id 0)"),
        }
    }
}

pub struct Transport {
    /// The window's registers.
    regs: IoMem,
    pub window: MmioWindow,
    /// Register layout: version 2 (modern) or 1 (legacy).
    pub version: Version,
    pub device_type: DeviceType,
    pub device_id: u32,
    /// Features both sides agreed on (after `negotiate`).
    pub features: u64,
    exits: Cell<u64>,
}

impl Transport {
    /// Checks the window and reads MagicValue, Version and DeviceID.
    pub fn probe(window: MmioWindow) -> Result<Self, ProbeError> {
        window
            .validate(io::DEVICE_RANGE.start, io::DEVICE_RANGE.end)
            .map_err(ProbeError::Window)?;
        let regs = IoMem::new(window.base, window.size)
            .expect("a validated window is in the device range");
        let t = Self {
            regs,
            window,
            version: Version::Modern,
            device_type: DeviceType::Other(0),
            device_id: 0,
            features: 0,
            exits: Cell::new(0),
        };
        let magic = t.read(reg::MAGIC_VALUE);
        if magic != mmio::MAGIC {
            return Err(ProbeError::BadMagic(magic));
        }
        let raw_version = t.read(reg::VERSION);
        let version =
            Version::from_register(raw_version).ok_or(ProbeError::BadVersion(raw_version))?;
        let device_id = t.read(reg::DEVICE_ID);
        if device_id == 0 {
            return Err(ProbeError::NoDevice);
        }
        Ok(Self {
            version,
            device_type: DeviceType::from_id(device_id),
            device_id,
            ..t
        })
    }

    /// A legacy (version 1) transport.
    pub fn legacy(&self) -> bool {
        self.version == Version::Legacy
    }

    /// Register and configuration accesses so far (each one a VM exit).
    pub fn exits(&self) -> u64 {
        self.exits.get()
    }

    /// Counts an access: each one is a VM exit.
    fn count(&self) {
        self.exits.set(self.exits.get() + 1);
    }

    pub fn read(&self, offset: usize) -> u32 {
        self.count();
        self.regs.read32(offset)
    }

    pub fn write(&self, offset: usize, value: u32) {
        self.count();
        self.regs.write32(offset, value)
    }

    fn config8(&self, offset: usize) -> u8 {
        self.count();
        self.regs.read8(mmio::CONFIG + offset)
    }

    fn config16(&self, offset: usize) -> u16 {
        self.count();
        self.regs.read16(mmio::CONFIG + offset)
    }

    /// The register window (e.g. for an interrupt handler's acknowledge).
    pub fn regs(&self) -> IoMem {
        self.regs
    }

    fn config32(&self, offset: usize) -> u32 {
        self.read(mmio::CONFIG + offset)
    }

    /// Reads configuration fields consistently: again if ConfigGeneration
    /// changed meanwhile (spec 4.2.2.2). Legacy transports have no
    /// ConfigGeneration: read once.
    fn consistent<R>(&self, f: impl Fn(&Self) -> R) -> R {
        if self.legacy() {
            return f(self);
        }
        loop {
            let before = self.read(reg::CONFIG_GENERATION);
            let value = f(self);
            if self.read(reg::CONFIG_GENERATION) == before {
                return value;
            }
        }
    }

    pub fn config_u16(&self, offset: usize) -> u16 {
        self.consistent(|t| t.config16(offset))
    }

    pub fn config_u32(&self, offset: usize) -> u32 {
        self.consistent(|t| t.config32(offset))
    }

    /// A 64-bit field as two 32-bit halves (spec 4.2.2.2).
    pub fn config_u64(&self, offset: usize) -> u64 {
        self.consistent(|t| {
            u64::from(t.config32(offset)) | (u64::from(t.config32(offset + 4)) << 32)
        })
    }

    pub fn config_bytes<const N: usize>(&self, offset: usize) -> [u8; N] {
        self.consistent(|t| core::array::from_fn(|i| t.config8(offset + i)))
    }

    fn status(&self) -> u32 {
        self.read(reg::STATUS)
    }

    fn add_status(&self, bits: u32) {
        self.write(reg::STATUS, self.status() | bits);
    }

    /// Reset, ACKNOWLEDGE, DRIVER, then features: accepts what the device
    /// offers of `wanted` plus VIRTIO_F_VERSION_1 (required) and
    /// VIRTIO_F_EVENT_IDX if offered, sets FEATURES_OK and checks that the
    /// device kept it. Returns the negotiated features. Legacy: see
    /// [`Self::negotiate_legacy`].
    pub fn negotiate(&mut self, wanted: u64) -> Result<u64, String> {
        // Reset; the device may take a moment to report status 0 (spec 4.2.3.1).
        self.write(reg::STATUS, 0);
        if !(0..RESET_POLLS).any(|_| self.status() == 0) {
            return Err(format!(
                "device did not reset (status nonzero after {RESET_POLLS} reads)"
            ));
        }
        self.add_status(status::ACKNOWLEDGE);
        self.add_status(status::DRIVER);
        if self.legacy() {
            return Ok(self.negotiate_legacy(wanted));
        }
        let offered = self.device_features();
        let features = match mmio::negotiate(offered, wanted | feature::EVENT_IDX) {
            Ok(f) => f,
            Err(e) => {
                self.fail();
                return Err(format!("{e} (offered {offered:#x})"));
            }
        };
        self.write(reg::DRIVER_FEATURES_SEL, 0);
        self.write(reg::DRIVER_FEATURES, features as u32);
        self.write(reg::DRIVER_FEATURES_SEL, 1);
        self.write(reg::DRIVER_FEATURES, (features >> 32) as u32);
        self.add_status(status::FEATURES_OK);
        if self.status() & status::FEATURES_OK == 0 {
            self.fail();
            return Err(format!(
                "device refused features {features:#x} (FEATURES_OK not kept)"
            ));
        }
        self.features = features;
        Ok(features)
    }

    /// The legacy rest of [`Self::negotiate`] (spec 4.2.4, 3.1.1 and Linux's
    /// legacy path): the low 32 feature bits the device offers of `wanted`
    /// and VIRTIO_F_EVENT_IDX, written as they are (no VIRTIO_F_VERSION_1,
    /// no FEATURES_OK); then GuestPageSize, which QueuePFN needs.
    fn negotiate_legacy(&mut self, wanted: u64) -> u64 {
        self.write(reg::DEVICE_FEATURES_SEL, 0);
        let offered = self.read(reg::DEVICE_FEATURES);
        let features = mmio::negotiate_legacy(offered, wanted | feature::EVENT_IDX);
        self.write(reg::DRIVER_FEATURES_SEL, 0);
        self.write(reg::DRIVER_FEATURES, features);
        self.write(reg::legacy::GUEST_PAGE_SIZE, mmio::LEGACY_GUEST_PAGE_SIZE);
        self.features = u64::from(features);
        self.features
    }

    fn device_features(&self) -> u64 {
        self.write(reg::DEVICE_FEATURES_SEL, 0);
        let low = self.read(reg::DEVICE_FEATURES);
        self.write(reg::DEVICE_FEATURES_SEL, 1);
        let high = self.read(reg::DEVICE_FEATURES);
        u64::from(low) | (u64::from(high) << 32)
    }

    pub fn has(&self, feature: u64) -> bool {
        self.features & feature != 0
    }

    /// Sets up queue `index` with at most `max` entries (spec 4.2.3.2;
    /// legacy: 4.2.4).
    pub fn setup_queue<T>(&mut self, index: u16, max: u16) -> Result<Virtqueue<T>, String> {
        self.write(reg::QUEUE_SEL, u32::from(index));
        let in_use = if self.legacy() {
            reg::legacy::QUEUE_PFN
        } else {
            reg::QUEUE_READY
        };
        if self.read(in_use) != 0 {
            return Err(format!("queue {index} already in use"));
        }
        let device_max = self.read(reg::QUEUE_NUM_MAX);
        if device_max == 0 {
            return Err(format!("queue {index} not available"));
        }
        // The largest power of two within both limits.
        let limit = device_max
            .min(u32::from(max.min(QUEUE_MAX.load(Relaxed))))
            .max(1);
        let size = 1u16 << (31 - limit.leading_zeros());
        if self.legacy() {
            return self.setup_legacy_queue(index, size);
        }
        let layout = Layout::new(size).expect("a power of two <= 32768");
        let region = zeroed_rings(index, &layout)?;
        let pa = region.pa();
        self.write(reg::QUEUE_NUM, u32::from(size));
        for (low, addr) in [
            (reg::QUEUE_DESC_LOW, pa + layout.desc as u64),
            (reg::QUEUE_DRIVER_LOW, pa + layout.avail as u64),
            (reg::QUEUE_DEVICE_LOW, pa + layout.used as u64),
        ] {
            self.write(low, addr as u32);
            self.write(low + 4, (addr >> 32) as u32);
        }
        let queue = SplitQueue::new(region, layout, self.has(feature::EVENT_IDX));
        self.write(reg::QUEUE_READY, 1);
        Ok(Virtqueue::new(index, queue))
    }

    /// The legacy rest of [`Self::setup_queue`] (queue `index` selected):
    /// one zeroed block in the legacy layout, page-aligned (buddy pages), its
    /// ring headers initialised before the device learns where it is.
    fn setup_legacy_queue<T>(&mut self, index: u16, size: u16) -> Result<Virtqueue<T>, String> {
        let align = mmio::LEGACY_QUEUE_ALIGN;
        let layout = Layout::legacy(size, align as usize)
            .expect("a power of two <= 32768, a power-of-two alignment");
        let region = zeroed_rings(index, &layout)?;
        let pa = region.pa();
        let pfn = mmio::legacy_queue_pfn(pa, mmio::LEGACY_GUEST_PAGE_SIZE)
            .ok_or_else(|| format!("queue {index}: rings at {pa:#x} have no 32-bit page number"))?;
        let queue = SplitQueue::new(region, layout, self.has(feature::EVENT_IDX));
        self.write(reg::QUEUE_NUM, u32::from(size));
        self.write(reg::legacy::QUEUE_ALIGN, align);
        self.write(reg::legacy::QUEUE_PFN, pfn);
        Ok(Virtqueue::new(index, queue))
    }

    /// DRIVER_OK: the device is live.
    pub fn driver_ok(&mut self) {
        self.add_status(status::DRIVER_OK);
    }

    /// FAILED: the driver gave up on the device.
    pub fn fail(&self) {
        self.add_status(status::FAILED);
    }

    /// Whether the device says it needs a reset (it hit an error). Legacy
    /// devices have no such status bit.
    pub fn needs_reset(&self) -> bool {
        !self.legacy() && self.status() & status::DEVICE_NEEDS_RESET != 0
    }

    /// QueueNotify: the VM exit that tells the device to look at queue `index`.
    pub fn notify(&self, index: u16) {
        self.write(reg::QUEUE_NOTIFY, u32::from(index));
    }

    /// `0xADDR irq N` (`0xADDR irq N, legacy virtio-mmio` for version 1), for messages.
    pub fn describe(&self) -> String {
        let legacy = if self.legacy() {
            ", legacy virtio-mmio"
        } else {
            ""
        };
        format!("{:#x} irq {}{legacy}", self.window.base, self.window.irq)
    }
}

/// Zeroed memory for queue `index`'s rings in `layout`.
fn zeroed_rings(index: u16, layout: &Layout) -> Result<DmaRegion, String> {
    DmaRegion::zeroed(layout.total).ok_or_else(|| {
        format!(
            "queue {index}: out of memory for {} bytes of rings",
            layout.total
        )
    })
}
