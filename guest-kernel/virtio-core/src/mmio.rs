//! The virtio-mmio transport (spec 4.2): where transports are announced, the
//! register map, device status bits and feature negotiation.
//!
//! # Announcement on the command line
//!
//! Linux's `virtio_mmio.device=<size>@<baseaddr>:<irq>[:<id>]` (see its
//! `drivers/virtio/virtio_mmio.c`): `size` with an optional K/M/G suffix,
//! numbers decimal or `0x` hex. QEMU microvm appends one per transport that
//! has a device when booted with `-kernel` and `acpi=off`; panvm always does.

use core::fmt;

/// "virt" in little endian: the MagicValue register.
pub const MAGIC: u32 = 0x7472_6976;
/// Version 2: the virtio 1.x ("modern") register layout (panvm's).
pub const VERSION_MODERN: u32 = 2;
/// Version 1: the legacy (virtio 0.9.5) register layout, spec 4.2.4 (QEMU's
/// default unless `-global virtio-mmio.force-legacy=false`).
pub const VERSION_LEGACY: u32 = 1;

/// The two register layouts a transport may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// Version 1 (spec 4.2.4): GuestPageSize, QueueAlign, QueuePFN; 32
    /// feature bits, no FEATURES_OK, no ConfigGeneration.
    Legacy,
    /// Version 2 (spec 4.2.2).
    Modern,
}

impl Version {
    /// The Version register's value, if it is one of the two.
    pub fn from_register(value: u32) -> Option<Self> {
        match value {
            VERSION_LEGACY => Some(Self::Legacy),
            VERSION_MODERN => Some(Self::Modern),
            _ => None,
        }
    }
}

/// What a driver writes to a legacy transport's GuestPageSize: the unit of
/// QueuePFN. Ferrite's pages are 4 KiB, like Linux's on x86.
pub const LEGACY_GUEST_PAGE_SIZE: u32 = 4096;
/// What a driver writes to a legacy transport's QueueAlign: the used ring's
/// alignment in the legacy queue layout (Linux: `PAGE_SIZE`).
pub const LEGACY_QUEUE_ALIGN: u32 = 4096;
/// Registers end at 0x100; device configuration space follows.
pub const CONFIG: usize = 0x100;
/// Smallest window that holds the registers and some configuration space.
pub const MIN_WINDOW: u64 = 0x200;

/// Register offsets (spec 4.2.2, table "MMIO Device Register Layout").
pub mod reg {
    pub const MAGIC_VALUE: usize = 0x000;
    pub const VERSION: usize = 0x004;
    pub const DEVICE_ID: usize = 0x008;
    pub const VENDOR_ID: usize = 0x00c;
    pub const DEVICE_FEATURES: usize = 0x010;
    pub const DEVICE_FEATURES_SEL: usize = 0x014;
    pub const DRIVER_FEATURES: usize = 0x020;
    pub const DRIVER_FEATURES_SEL: usize = 0x024;
    pub const QUEUE_SEL: usize = 0x030;
    pub const QUEUE_NUM_MAX: usize = 0x034;
    pub const QUEUE_NUM: usize = 0x038;
    pub const QUEUE_READY: usize = 0x044;
    pub const QUEUE_NOTIFY: usize = 0x050;
    pub const INTERRUPT_STATUS: usize = 0x060;
    pub const INTERRUPT_ACK: usize = 0x064;
    pub const STATUS: usize = 0x070;
    pub const QUEUE_DESC_LOW: usize = 0x080;
    pub const QUEUE_DESC_HIGH: usize = 0x084;
    pub const QUEUE_DRIVER_LOW: usize = 0x090;
    pub const QUEUE_DRIVER_HIGH: usize = 0x094;
    pub const QUEUE_DEVICE_LOW: usize = 0x0a0;
    pub const QUEUE_DEVICE_HIGH: usize = 0x0a4;
    pub const CONFIG_GENERATION: usize = 0x0fc;

    /// Legacy (version 1) registers (spec 4.2.4, table "MMIO Device Legacy
    /// Register Layout"); the others above with the same offsets are shared
    /// (DeviceFeatures = HostFeatures, DriverFeatures = GuestFeatures, their
    /// selectors, QueueSel, QueueNumMax, QueueNum, QueueNotify, the
    /// interrupt registers, Status, configuration at 0x100). Version 1 has no
    /// QueueReady, no queue address pairs and no ConfigGeneration.
    pub mod legacy {
        pub const GUEST_PAGE_SIZE: usize = 0x028;
        pub const QUEUE_ALIGN: usize = 0x03c;
        pub const QUEUE_PFN: usize = 0x040;
    }
}

/// Device status bits (spec 2.1).
pub mod status {
    pub const ACKNOWLEDGE: u32 = 1;
    pub const DRIVER: u32 = 2;
    pub const DRIVER_OK: u32 = 4;
    pub const FEATURES_OK: u32 = 8;
    pub const DEVICE_NEEDS_RESET: u32 = 64;
    pub const FAILED: u32 = 128;
}

/// Device-independent feature bits (spec 6).
pub mod feature {
    /// Legacy only: the device accepts any framing of headers and data over
    /// descriptors (virtio 1.x devices always do).
    pub const ANY_LAYOUT: u64 = 1 << 27;
    pub const INDIRECT_DESC: u64 = 1 << 28;
    pub const EVENT_IDX: u64 = 1 << 29;
    pub const VERSION_1: u64 = 1 << 32;
    pub const ACCESS_PLATFORM: u64 = 1 << 33;
    pub const RING_PACKED: u64 = 1 << 34;
}

/// Device types (spec 5), the ones ferrite knows by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceType {
    Net,
    Block,
    Console,
    Entropy,
    Balloon,
    Other(u32),
}

impl DeviceType {
    pub fn from_id(id: u32) -> Self {
        match id {
            1 => Self::Net,
            2 => Self::Block,
            3 => Self::Console,
            4 => Self::Entropy,
            5 => Self::Balloon,
            other => Self::Other(other),
        }
    }

    /// Short name as in the boot lines (`virtio: blk at ...`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Net => "net",
            Self::Block => "blk",
            Self::Console => "console",
            Self::Entropy => "rng",
            Self::Balloon => "balloon",
            Self::Other(_) => "device",
        }
    }
}

/// One virtio-mmio transport: register window and interrupt line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MmioWindow {
    pub base: u64,
    pub size: u64,
    pub irq: u32,
}

impl fmt::Display for MmioWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}+{:#x} irq {}", self.base, self.size, self.irq)
    }
}

/// Why a window cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowError {
    /// Shorter than the registers plus a little configuration space.
    TooSmall,
    /// Base not 4-byte aligned (every register access is 32 bits).
    Unaligned,
    /// Not inside the address range the kernel maps for devices.
    OutsideMmio { lo: u64, hi: u64 },
}

impl fmt::Display for WindowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooSmall => write!(f, "window smaller than {MIN_WINDOW:#x} bytes"),
            Self::Unaligned => f.write_str("base address not 4-byte aligned"),
            Self::OutsideMmio { lo, hi } => {
                write!(f, "window outside the device range [{lo:#x}, {hi:#x})")
            }
        }
    }
}

impl MmioWindow {
    /// Checks that the window lies wholly in `[lo, hi)` (the kernel's
    /// uncached device mapping), is aligned and big enough.
    pub fn validate(&self, lo: u64, hi: u64) -> Result<(), WindowError> {
        if self.size < MIN_WINDOW {
            return Err(WindowError::TooSmall);
        }
        if !self.base.is_multiple_of(4) {
            return Err(WindowError::Unaligned);
        }
        match self.base.checked_add(self.size) {
            Some(end) if self.base >= lo && end <= hi => Ok(()),
            _ => Err(WindowError::OutsideMmio { lo, hi }),
        }
    }
}

/// A malformed `virtio_mmio.device=` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseError<'a> {
    pub value: &'a str,
    pub reason: &'static str,
}

impl fmt::Display for ParseError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "virtio_mmio.device={}: {}", self.value, self.reason)
    }
}

/// The command-line key that announces a transport.
pub const CMDLINE_KEY: &str = "virtio_mmio.device";

/// Parses one `<size>@<base>:<irq>[:<id>]` value (the id is ignored).
pub fn parse_device(value: &str) -> Result<MmioWindow, ParseError<'_>> {
    let err = |reason| ParseError { value, reason };
    let (size, rest) = value.split_once('@').ok_or(err("expected SIZE@ADDR:IRQ"))?;
    let mut parts = rest.split(':');
    let base = parts.next().ok_or(err("missing base address"))?;
    let irq = parts.next().ok_or(err("missing :IRQ"))?;
    if let Some(id) = parts.next() {
        parse_number(id).ok_or(err("bad device id"))?;
    }
    if parts.next().is_some() {
        return Err(err("too many ':' fields"));
    }
    let size = parse_size(size).ok_or(err("bad size"))?;
    let base = parse_number(base).ok_or(err("bad base address"))?;
    let irq = parse_number(irq).ok_or(err("bad IRQ"))?;
    if size == 0 {
        return Err(err("size is zero"));
    }
    let irq = u32::try_from(irq).map_err(|_| err("IRQ too large"))?;
    Ok(MmioWindow { base, size, irq })
}

/// Every `virtio_mmio.device=` entry of a command line given as `(key,
/// value)` words, in order: the windows, or the first malformed entry.
pub fn devices_from_params<'a>(
    params: impl Iterator<Item = (&'a str, Option<&'a str>)>,
) -> impl Iterator<Item = Result<MmioWindow, ParseError<'a>>> {
    params.filter_map(|(key, value)| match (key, value) {
        (CMDLINE_KEY, Some(v)) => Some(parse_device(v)),
        (CMDLINE_KEY, None) => Some(Err(ParseError {
            value: "",
            reason: "missing value",
        })),
        _ => None,
    })
}

/// Decimal, or hex with `0x`.
fn parse_number(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) if !hex.is_empty() => u64::from_str_radix(hex, 16).ok(),
        Some(_) => None,
        None => s.parse().ok(),
    }
}

/// A number with an optional K/M/G suffix (binary multiples, as Linux's memparse).
fn parse_size(s: &str) -> Option<u64> {
    let (digits, shift) = match s.as_bytes().last()? {
        b'k' | b'K' => (&s[..s.len() - 1], 10),
        b'm' | b'M' => (&s[..s.len() - 1], 20),
        b'g' | b'G' => (&s[..s.len() - 1], 30),
        _ => (s, 0),
    };
    let n = parse_number(digits)?;
    n.checked_mul(1 << shift)
}

/// Feature negotiation failures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeatureError {
    /// The device does not offer VIRTIO_F_VERSION_1 (a legacy-only device).
    NoVersion1,
}

impl fmt::Display for FeatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoVersion1 => f.write_str("device does not offer VIRTIO_F_VERSION_1"),
        }
    }
}

/// The features the driver accepts: what the device offers of `wanted`,
/// always with VIRTIO_F_VERSION_1 (required), never ACCESS_PLATFORM or
/// RING_PACKED (this driver uses guest-physical addresses and split rings).
pub fn negotiate(offered: u64, wanted: u64) -> Result<u64, FeatureError> {
    if offered & feature::VERSION_1 == 0 {
        return Err(FeatureError::NoVersion1);
    }
    let never = feature::ACCESS_PLATFORM | feature::RING_PACKED;
    Ok((offered & wanted & !never) | feature::VERSION_1)
}

/// Legacy feature negotiation (spec 4.2.4 and 6.3): the device offers 32
/// bits (HostFeatures with selector 0), the driver accepts what it wants of
/// them. No VIRTIO_F_VERSION_1 (bit 32 does not exist there) and no
/// FEATURES_OK step: the device takes what the driver writes.
pub fn negotiate_legacy(offered: u32, wanted: u64) -> u32 {
    offered & wanted as u32
}

/// The QueuePFN value for a legacy queue whose block starts at guest-physical
/// `pa`: its page number in units of `page_size` (GuestPageSize). `None`
/// when `pa` is not page-aligned or the page number does not fit 32 bits
/// (at or above 16 TiB with 4 KiB pages), or `pa` is 0, which QueuePFN reads
/// as "stop using the queue".
pub fn legacy_queue_pfn(pa: u64, page_size: u32) -> Option<u32> {
    let page = u64::from(page_size);
    if page == 0 || pa == 0 || !pa.is_multiple_of(page) {
        return None;
    }
    u32::try_from(pa / page).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_qemu_microvm_entries() {
        assert_eq!(
            parse_device("512@0xfeb00e00:12"),
            Ok(MmioWindow { base: 0xfeb0_0e00, size: 512, irq: 12 })
        );
        assert_eq!(
            parse_device("4K@0xd0000000:16:3"),
            Ok(MmioWindow { base: 0xd000_0000, size: 4096, irq: 16 })
        );
        assert_eq!(
            parse_device("0x1000@3489660928:5"),
            Ok(MmioWindow { base: 0xd000_0000, size: 4096, irq: 5 })
        );
        assert_eq!(parse_device("1M@0x0:0").unwrap().size, 1 << 20);
    }

    #[test]
    fn rejects_malformed_entries() {
        for bad in [
            "", "512", "512@", "512@0xfeb00000", "@0x1:2", "x@0x1:2", "512@0x:1",
            "512@0x1:", "512@0x1:2:3:4", "0@0x1000:1", "512@0x1000:99999999999",
            "99999999999G@0:1",
        ] {
            assert!(parse_device(bad).is_err(), "{bad:?} accepted");
        }
        let e = parse_device("512@zz:1").unwrap_err();
        assert_eq!(e.reason, "bad base address");
        assert_eq!(
            e.to_string(),
            "virtio_mmio.device=512@zz:1: bad base address"
        );
    }

    #[test]
    fn collects_every_entry_in_order() {
        let words = [
            ("workload", Some("disksum")),
            (CMDLINE_KEY, Some("512@0xfeb00e00:12")),
            ("quiet", None),
            (CMDLINE_KEY, Some("512@0xfeb00c00:11")),
        ];
        let found: Vec<_> = devices_from_params(words.into_iter()).collect();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].unwrap().base, 0xfeb0_0e00);
        assert_eq!(found[1].unwrap().irq, 11);
        let none: Vec<_> = devices_from_params([("workload", Some("pipe"))].into_iter()).collect();
        assert!(none.is_empty());
        let bare: Vec<_> = devices_from_params([(CMDLINE_KEY, None)].into_iter()).collect();
        assert!(bare[0].is_err());
    }

    #[test]
    fn validates_windows() {
        let (lo, hi) = (0xc000_0000, 0x1_0000_0000);
        let ok = MmioWindow { base: 0xfeb0_0000, size: 512, irq: 1 };
        assert_eq!(ok.validate(lo, hi), Ok(()));
        let small = MmioWindow { size: 0x100, ..ok };
        assert_eq!(small.validate(lo, hi), Err(WindowError::TooSmall));
        let odd = MmioWindow { base: 0xfeb0_0002, ..ok };
        assert_eq!(odd.validate(lo, hi), Err(WindowError::Unaligned));
        let low = MmioWindow { base: 0x1000, ..ok };
        assert!(low.validate(lo, hi).is_err());
        let over = MmioWindow { base: 0xffff_ff00, ..ok };
        assert!(over.validate(lo, hi).is_err());
        let wrap = MmioWindow { base: u64::MAX - 3, size: 0x200, irq: 0 };
        assert!(wrap.validate(lo, u64::MAX).is_err());
    }

    #[test]
    fn negotiation_requires_version_1() {
        assert_eq!(negotiate(feature::EVENT_IDX, u64::MAX), Err(FeatureError::NoVersion1));
        let offered = feature::VERSION_1 | feature::EVENT_IDX | feature::ACCESS_PLATFORM | 1;
        assert_eq!(
            negotiate(offered, feature::EVENT_IDX | feature::ACCESS_PLATFORM),
            Ok(feature::VERSION_1 | feature::EVENT_IDX)
        );
        assert_eq!(negotiate(offered, 0), Ok(feature::VERSION_1));
    }

    #[test]
    fn legacy_negotiation_takes_wanted_low_bits_only() {
        let offered = (feature::EVENT_IDX | feature::INDIRECT_DESC | 1 << 5 | 1 << 27) as u32;
        assert_eq!(
            negotiate_legacy(offered, feature::EVENT_IDX | 1 << 5 | feature::VERSION_1),
            (feature::EVENT_IDX | 1 << 5) as u32
        );
        // Bits at and above 32 are never accepted (there is no VERSION_1).
        assert_eq!(negotiate_legacy(u32::MAX, feature::VERSION_1 | feature::RING_PACKED), 0);
        assert_eq!(negotiate_legacy(0, u64::MAX), 0);
    }

    #[test]
    fn legacy_queue_pfns() {
        assert_eq!(legacy_queue_pfn(0x12_3000, 4096), Some(0x123));
        assert_eq!(legacy_queue_pfn(0x7fff_f000, 4096), Some(0x7_ffff));
        assert_eq!(legacy_queue_pfn(0xfff_ffff_f000, 4096), Some(u32::MAX));
        assert_eq!(legacy_queue_pfn(0x1000_0000_0000, 4096), None, "PFN beyond 32 bits");
        assert_eq!(legacy_queue_pfn(0x12_3800, 4096), None, "not page-aligned");
        assert_eq!(legacy_queue_pfn(0, 4096), None, "PFN 0 means no queue");
        assert_eq!(legacy_queue_pfn(0x1000, 0), None);
    }

    #[test]
    fn versions() {
        assert_eq!(Version::from_register(1), Some(Version::Legacy));
        assert_eq!(Version::from_register(2), Some(Version::Modern));
        assert_eq!(Version::from_register(0), None);
        assert_eq!(Version::from_register(3), None);
    }

    #[test]
    fn device_types() {
        assert_eq!(DeviceType::from_id(2).name(), "blk");
        assert_eq!(DeviceType::from_id(1), DeviceType::Net);
        assert_eq!(DeviceType::from_id(4).name(), "rng");
        assert_eq!(DeviceType::from_id(42), DeviceType::Other(42));
    }
}
