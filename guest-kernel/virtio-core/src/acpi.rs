//! virtio-mmio transports described by ACPI, as QEMU's microvm machine does
//! by default (with `acpi=off` it puts `virtio_mmio.device=` entries on the
//! command line instead, see [`crate::mmio`]).
//!
//! The walk: RSDP (its address comes in `hvm_start_info.rsdp_paddr`) ->
//! XSDT (or RSDT) -> FADT ("FACP") -> DSDT, plus every SSDT. Each table's
//! checksum is verified. In the AML of those tables every device whose
//! `_HID` is the string `"LNRO0005"` (the virtio-mmio id Linux matches) is
//! located, and its `_CRS` resource template is decoded for a
//! Memory32Fixed window and an (Extended) Interrupt.
//!
//! This is a pattern scan over the AML byte code, not an AML interpreter:
//! it finds `Name(_HID, "LNRO0005")` and the next `Name(_CRS, Buffer(){...})`
//! before the following device, which is how QEMU (and Firecracker-style
//! VMMs) encode these devices. A device encoded differently is not found;
//! nothing outside the tables is ever read.
//!
//! The same walk finds any other table by signature ([`find_table`]); the
//! kernel reads the MADT ("APIC") for its processors' local APIC ids
//! ([`madt_cpus`]) to start them itself under QEMU.

use alloc::vec::Vec;
use core::fmt;

use crate::mmio::MmioWindow;

/// Reads guest-physical memory. Returns false if `[pa, pa + buf.len())`
/// may not be read (outside firmware/ACPI memory, or not mapped).
pub trait PhysMem {
    fn read(&self, pa: u64, buf: &mut [u8]) -> bool;
}

/// Tables larger than this are refused (QEMU's DSDT is a few KiB).
pub const MAX_TABLE: usize = 1 << 20;
const HEADER: usize = 36;
const HID: &[u8] = b"LNRO0005\0";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AcpiError {
    Unreadable { what: &'static str, pa: u64 },
    BadSignature { what: &'static str, pa: u64 },
    BadChecksum { what: &'static str, pa: u64 },
    BadLength { what: &'static str, pa: u64, len: u64 },
    NoFadt,
}

impl fmt::Display for AcpiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreadable { what, pa } => write!(f, "{what} at {pa:#x} is not readable"),
            Self::BadSignature { what, pa } => write!(f, "{what} at {pa:#x}: bad signature"),
            Self::BadChecksum { what, pa } => write!(f, "{what} at {pa:#x}: bad checksum"),
            Self::BadLength { what, pa, len } => write!(f, "{what} at {pa:#x}: bad length {len}"),
            Self::NoFadt => f.write_str("no FADT (FACP) in the root table"),
        }
    }
}

fn sum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |s, &b| s.wrapping_add(b))
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// A whole table (header included) with its checksum verified.
fn read_table(mem: &impl PhysMem, pa: u64, what: &'static str) -> Result<Vec<u8>, AcpiError> {
    let mut header = [0u8; HEADER];
    if !mem.read(pa, &mut header) {
        return Err(AcpiError::Unreadable { what, pa });
    }
    let len = le32(&header, 4) as usize;
    if !(HEADER..=MAX_TABLE).contains(&len) {
        return Err(AcpiError::BadLength { what, pa, len: len as u64 });
    }
    let mut table = alloc::vec![0u8; len];
    if !mem.read(pa, &mut table) {
        return Err(AcpiError::Unreadable { what, pa });
    }
    if sum(&table) != 0 {
        return Err(AcpiError::BadChecksum { what, pa });
    }
    Ok(table)
}

/// The root table's entries (physical addresses of the other tables).
fn root_entries(mem: &impl PhysMem, rsdp_pa: u64) -> Result<Vec<u64>, AcpiError> {
    let mut rsdp = [0u8; 36];
    if !mem.read(rsdp_pa, &mut rsdp[..20]) {
        return Err(AcpiError::Unreadable { what: "RSDP", pa: rsdp_pa });
    }
    if &rsdp[..8] != b"RSD PTR " {
        return Err(AcpiError::BadSignature { what: "RSDP", pa: rsdp_pa });
    }
    if sum(&rsdp[..20]) != 0 {
        return Err(AcpiError::BadChecksum { what: "RSDP", pa: rsdp_pa });
    }
    let revision = rsdp[15];
    let mut xsdt = 0;
    if revision >= 2 && mem.read(rsdp_pa, &mut rsdp) && le32(&rsdp, 20) as usize >= 36 && sum(&rsdp) == 0 {
        xsdt = le64(&rsdp, 24);
    }
    let (pa, what, width, sig) = if xsdt != 0 {
        (xsdt, "XSDT", 8, b"XSDT")
    } else {
        (u64::from(le32(&rsdp, 16)), "RSDT", 4, b"RSDT")
    };
    let table = read_table(mem, pa, what)?;
    if &table[..4] != sig {
        return Err(AcpiError::BadSignature { what, pa });
    }
    Ok(table[HEADER..]
        .chunks_exact(width)
        .map(|e| if width == 8 { le64(e, 0) } else { u64::from(le32(e, 0)) })
        .collect())
}

/// Every virtio-mmio transport in the DSDT and SSDTs reachable from the
/// RSDP at `rsdp_pa`, in table order.
pub fn find_virtio_mmio(mem: &impl PhysMem, rsdp_pa: u64) -> Result<Vec<MmioWindow>, AcpiError> {
    let mut aml_tables = Vec::new();
    let mut fadt_seen = false;
    for pa in root_entries(mem, rsdp_pa)? {
        let mut sig = [0u8; 4];
        if pa == 0 || !mem.read(pa, &mut sig) {
            continue;
        }
        match &sig {
            b"FACP" => {
                let fadt = read_table(mem, pa, "FADT")?;
                fadt_seen = true;
                let x_dsdt = if fadt.len() >= 148 { le64(&fadt, 140) } else { 0 };
                let dsdt = if x_dsdt != 0 { x_dsdt } else if fadt.len() >= 44 { u64::from(le32(&fadt, 40)) } else { 0 };
                if dsdt != 0 {
                    aml_tables.push((dsdt, "DSDT"));
                }
            }
            b"SSDT" => aml_tables.push((pa, "SSDT")),
            _ => {}
        }
    }
    if !fadt_seen {
        return Err(AcpiError::NoFadt);
    }
    let mut found = Vec::new();
    for (pa, what) in aml_tables {
        let table = read_table(mem, pa, what)?;
        found.extend(scan_aml(&table[HEADER..]));
    }
    Ok(found)
}

/// The first table with `signature` (e.g. `b"APIC"`, the MADT) listed in
/// the root table reachable from the RSDP at `rsdp_pa`, checksum verified;
/// `Ok(None)` if the root table lists none.
pub fn find_table(mem: &impl PhysMem, rsdp_pa: u64, signature: &[u8; 4]) -> Result<Option<Vec<u8>>, AcpiError> {
    for pa in root_entries(mem, rsdp_pa)? {
        let mut sig = [0u8; 4];
        if pa == 0 || !mem.read(pa, &mut sig) || &sig != signature {
            continue;
        }
        return read_table(mem, pa, "table").map(Some);
    }
    Ok(None)
}

/// One processor entry of the MADT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MadtCpu {
    /// Local APIC id (xAPIC entries: 8 bits; x2APIC entries: 32 bits).
    pub apic_id: u32,
    /// Flags bit 0: the processor is present and usable. (A VMM lists CPUs
    /// it could hot-add later with this bit clear.)
    pub enabled: bool,
}

/// The processors of a MADT (`table`: the whole table, header included):
/// Processor Local APIC (type 0) and Processor Local x2APIC (type 9)
/// entries, in table order (ACPI 6.5, 5.2.12). A truncated or malformed
/// entry ends the list.
pub fn madt_cpus(table: &[u8]) -> Vec<MadtCpu> {
    const ENTRIES: usize = HEADER + 8; // local APIC address, flags
    const LOCAL_APIC: u8 = 0;
    const LOCAL_X2APIC: u8 = 9;
    let mut cpus = Vec::new();
    let mut at = ENTRIES;
    while at + 2 <= table.len() {
        let (kind, len) = (table[at], usize::from(table[at + 1]));
        let Some(entry) = table.get(at..at + len).filter(|_| len >= 2) else {
            break;
        };
        match kind {
            LOCAL_APIC if len >= 8 => cpus.push(MadtCpu { apic_id: u32::from(entry[3]), enabled: le32(entry, 4) & 1 != 0 }),
            LOCAL_X2APIC if len >= 16 => cpus.push(MadtCpu { apic_id: le32(entry, 4), enabled: le32(entry, 8) & 1 != 0 }),
            _ => {}
        }
        at += len;
    }
    cpus
}

/// Virtio-mmio devices in AML byte code (see the module comment).
pub fn scan_aml(aml: &[u8]) -> Vec<MmioWindow> {
    let starts: Vec<usize> = (0..aml.len().saturating_sub(HID.len() - 1))
        .filter(|&i| &aml[i..i + HID.len()] == HID && i > 0 && aml[i - 1] == 0x0d)
        .collect();
    let mut out = Vec::new();
    for (k, &start) in starts.iter().enumerate() {
        let end = starts.get(k + 1).copied().unwrap_or(aml.len());
        if let Some(window) = device_resources(&aml[start..end]) {
            out.push(window);
        }
    }
    out
}

/// `_CRS` of one device's AML (from its `_HID` to the next device's).
fn device_resources(aml: &[u8]) -> Option<MmioWindow> {
    let crs = (0..aml.len().saturating_sub(4)).find(|&i| &aml[i..i + 4] == b"_CRS" && aml.get(i + 4) == Some(&0x11))?;
    // BufferOp PkgLength BufferSize ByteList
    let pkg_at = crs + 5;
    let (pkg_len, pkg_bytes) = pkg_length(aml.get(pkg_at..)?)?;
    let pkg_end = pkg_at.checked_add(pkg_len)?.min(aml.len());
    let mut at = pkg_at + pkg_bytes;
    let (size, size_bytes) = integer(aml.get(at..pkg_end)?)?;
    at += size_bytes;
    let end = at.checked_add(usize::try_from(size).ok()?)?.min(pkg_end);
    resource_template(aml.get(at..end)?)
}

/// AML PkgLength: (value, bytes it occupies).
fn pkg_length(b: &[u8]) -> Option<(usize, usize)> {
    let lead = *b.first()?;
    let follow = usize::from(lead >> 6);
    if follow == 0 {
        return Some((usize::from(lead & 0x3f), 1));
    }
    let mut value = usize::from(lead & 0x0f);
    for i in 0..follow {
        value |= usize::from(*b.get(1 + i)?) << (4 + 8 * i);
    }
    Some((value, 1 + follow))
}

/// An AML integer constant: (value, bytes).
fn integer(b: &[u8]) -> Option<(u64, usize)> {
    match *b.first()? {
        0x00 => Some((0, 1)),
        0x01 => Some((1, 1)),
        0xff => Some((u64::MAX, 1)),
        0x0a => Some((u64::from(*b.get(1)?), 2)),
        0x0b => Some((u64::from(u16::from_le_bytes(b.get(1..3)?.try_into().ok()?)), 3)),
        0x0c => Some((u64::from(le32(b.get(1..5)?, 0)), 5)),
        0x0e => Some((le64(b.get(1..9)?, 0), 9)),
        _ => None,
    }
}

/// Memory32Fixed + first interrupt from a resource template.
fn resource_template(b: &[u8]) -> Option<MmioWindow> {
    let mut at = 0;
    let mut window: Option<(u64, u64)> = None;
    let mut irq: Option<u32> = None;
    while at < b.len() {
        let tag = b[at];
        if tag & 0x80 == 0 {
            // Small item: type in bits 6..3, length in bits 2..0.
            let len = usize::from(tag & 7);
            let kind = (tag >> 3) & 0x0f;
            let body = b.get(at + 1..at + 1 + len)?;
            if kind == 0x0f {
                break; // End Tag
            }
            if kind == 0x04 && len >= 2 && irq.is_none() {
                // IRQ descriptor: 16-bit mask.
                let mask = u16::from_le_bytes([body[0], body[1]]);
                if mask != 0 {
                    irq = Some(mask.trailing_zeros());
                }
            }
            at += 1 + len;
        } else {
            let len = usize::from(u16::from_le_bytes(b.get(at + 1..at + 3)?.try_into().ok()?));
            let body = b.get(at + 3..at + 3 + len)?;
            match tag & 0x7f {
                // Memory32Fixed: info, base, length.
                0x06 if len >= 9 && window.is_none() => {
                    window = Some((u64::from(le32(body, 1)), u64::from(le32(body, 5))));
                }
                // Extended Interrupt: flags, count, interrupts.
                0x09 if len >= 6 && irq.is_none() && body[1] >= 1 => irq = Some(le32(body, 2)),
                _ => {}
            }
            at += 3 + len;
        }
    }
    let (base, size) = window?;
    Some(MmioWindow { base, size, irq: irq.unwrap_or(0) })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// QEMU 7.2 microvm's encoding of one transport (acpi-microvm.c:
    /// `Device(VR07) { Name(_HID, "LNRO0005") Name(_UID, 7) Name(_CCA, One)
    /// Name(_CRS, ResourceTemplate { Memory32Fixed(ReadWrite, 0xfeb00e00,
    /// 0x200) Interrupt(ResourceConsumer, Level, ActiveHigh, Exclusive) {12} }) }`).
    fn qemu_device(name: &[u8; 4], uid: u8, base: u32, irq: u32) -> Vec<u8> {
        let mut template = vec![0x86, 0x09, 0x00, 0x01];
        template.extend_from_slice(&base.to_le_bytes());
        template.extend_from_slice(&0x200u32.to_le_bytes());
        template.extend_from_slice(&[0x89, 0x06, 0x00, 0x03, 0x01]);
        template.extend_from_slice(&irq.to_le_bytes());
        template.extend_from_slice(&[0x79, 0x00]);
        let mut crs = vec![0x08];
        crs.extend_from_slice(b"_CRS");
        crs.push(0x11);
        let body_len = 2 + template.len(); // BufferSize (0x0a n) + bytes
        crs.push((1 + body_len) as u8); // one-byte PkgLength
        crs.extend_from_slice(&[0x0a, template.len() as u8]);
        crs.extend_from_slice(&template);
        let mut body = Vec::new();
        body.extend_from_slice(name);
        body.push(0x08);
        body.extend_from_slice(b"_HID");
        body.push(0x0d);
        body.extend_from_slice(HID);
        body.extend_from_slice(&[0x08, b'_', b'U', b'I', b'D', 0x0a, uid]);
        body.extend_from_slice(&[0x08, b'_', b'C', b'C', b'A', 0x01]);
        body.extend_from_slice(&crs);
        // DeviceOp (ExtOpPrefix 0x5b, 0x82) PkgLength(2 bytes) body
        let len = body.len() + 2;
        let mut dev = vec![0x5b, 0x82, 0x40 | (len & 0x0f) as u8, (len >> 4) as u8];
        dev.extend_from_slice(&body);
        dev
    }

    #[test]
    fn finds_qemu_microvm_devices_in_aml() {
        let mut aml = vec![0x10, 0x05, b'\\', b'_', b'S', b'B', b'_']; // Scope(\_SB) stub
        aml.extend(qemu_device(b"VR07", 7, 0xfeb0_0e00, 12));
        aml.extend(qemu_device(b"VR06", 6, 0xfeb0_0c00, 11));
        let found = scan_aml(&aml);
        assert_eq!(
            found,
            [
                MmioWindow { base: 0xfeb0_0e00, size: 0x200, irq: 12 },
                MmioWindow { base: 0xfeb0_0c00, size: 0x200, irq: 11 },
            ]
        );
    }

    #[test]
    fn truncated_or_garbled_aml_finds_nothing_and_never_panics() {
        let dev = qemu_device(b"VR00", 0, 0xfeb0_0000, 5);
        for cut in 0..dev.len() {
            let _ = scan_aml(&dev[..cut]);
        }
        let mut rng = 0x1234_5678_9abc_def0u64;
        for _ in 0..2000 {
            let mut d = dev.clone();
            for _ in 0..3 {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let i = (rng as usize) % d.len();
                d[i] = (rng >> 32) as u8;
            }
            let _ = scan_aml(&d);
        }
        assert!(scan_aml(b"no devices here").is_empty());
    }

    #[test]
    fn pkg_length_encodings() {
        assert_eq!(pkg_length(&[0x3f]), Some((0x3f, 1)));
        assert_eq!(pkg_length(&[0x4a, 0x12]), Some((0x12a, 2)));
        assert_eq!(pkg_length(&[0x83, 0x21, 0x43]), Some((0x43213, 3)));
        assert_eq!(pkg_length(&[0xc3, 0x21, 0x43, 0x65]), Some((0x654_3213, 4)));
        assert_eq!(pkg_length(&[0x4a]), None);
        assert_eq!(integer(&[0x0b, 0x34, 0x12]), Some((0x1234, 3)));
    }

    /// Guest memory as a sparse map of byte ranges.
    struct Mem(Vec<(u64, Vec<u8>)>);
    impl PhysMem for Mem {
        fn read(&self, pa: u64, buf: &mut [u8]) -> bool {
            for (base, bytes) in &self.0 {
                if pa >= *base && pa + buf.len() as u64 <= base + bytes.len() as u64 {
                    let o = (pa - base) as usize;
                    buf.copy_from_slice(&bytes[o..o + buf.len()]);
                    return true;
                }
            }
            false
        }
    }

    fn table(sig: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut t = Vec::new();
        t.extend_from_slice(sig);
        t.extend_from_slice(&((HEADER + body.len()) as u32).to_le_bytes());
        t.extend_from_slice(&[1, 0]); // revision, checksum
        t.extend_from_slice(b"BOCHS BXPC    \x01\x00\x00\x00BXPC\x01\x00\x00\x00");
        t.extend_from_slice(body);
        let s = sum(&t);
        t[9] = 0u8.wrapping_sub(s);
        t
    }

    fn machine(xsdt: bool) -> Mem {
        let dsdt = table(b"DSDT", &qemu_device(b"VR01", 1, 0xfeb0_0200, 6));
        let ssdt = table(b"SSDT", &qemu_device(b"VR02", 2, 0xfeb0_0400, 7));
        let mut fadt_body = vec![0u8; 148 - HEADER];
        fadt_body[40 - HEADER..44 - HEADER].copy_from_slice(&0x3000u32.to_le_bytes());
        let fadt = table(b"FACP", &fadt_body);
        let apic = table(b"APIC", &[0; 8]);
        let mut root = Vec::new();
        for pa in [0x2000u64, 0x5000, 0x4000] {
            if xsdt {
                root.extend_from_slice(&pa.to_le_bytes());
            } else {
                root.extend_from_slice(&(pa as u32).to_le_bytes());
            }
        }
        if xsdt {
            root.extend_from_slice(&0x6000u64.to_le_bytes());
        } else {
            root.extend_from_slice(&0x6000u32.to_le_bytes());
        }
        let root = table(if xsdt { b"XSDT" } else { b"RSDT" }, &root);
        let mut rsdp = vec![0u8; 36];
        rsdp[..8].copy_from_slice(b"RSD PTR ");
        rsdp[9..15].copy_from_slice(b"BOCHS ");
        rsdp[15] = if xsdt { 2 } else { 0 };
        rsdp[16..20].copy_from_slice(&0x1000u32.to_le_bytes());
        rsdp[20..24].copy_from_slice(&36u32.to_le_bytes());
        if xsdt {
            rsdp[24..32].copy_from_slice(&0x1000u64.to_le_bytes());
        }
        let s = sum(&rsdp[..20]);
        rsdp[8] = 0u8.wrapping_sub(s);
        let s = sum(&rsdp);
        rsdp[32] = 0u8.wrapping_sub(s);
        Mem(vec![(0xf0000, rsdp), (0x1000, root), (0x2000, fadt), (0x3000, dsdt), (0x4000, apic), (0x6000, ssdt)])
    }

    #[test]
    fn walks_rsdp_root_fadt_dsdt_and_ssdts() {
        for xsdt in [false, true] {
            let found = find_virtio_mmio(&machine(xsdt), 0xf0000).unwrap();
            assert_eq!(
                found,
                [
                    MmioWindow { base: 0xfeb0_0200, size: 0x200, irq: 6 },
                    MmioWindow { base: 0xfeb0_0400, size: 0x200, irq: 7 },
                ],
                "xsdt={xsdt}"
            );
        }
    }

    /// A MADT as QEMU 7.2 builds it (acpi_build_madt): local APIC address
    /// and flags, one Processor Local APIC entry per possible CPU, IOAPIC,
    /// interrupt source overrides, local APIC NMI.
    fn madt(cpus: &[(u8, u32)], x2apic: &[(u32, u32)]) -> Vec<u8> {
        let mut body = vec![0x00, 0x00, 0xe0, 0xfe, 1, 0, 0, 0];
        for (i, &(id, flags)) in cpus.iter().enumerate() {
            body.extend_from_slice(&[0, 8, i as u8, id]);
            body.extend_from_slice(&flags.to_le_bytes());
        }
        body.extend_from_slice(&[1, 12, 0, 0, 0, 0, 0xc0, 0xfe, 0, 0, 0, 0]); // IOAPIC
        body.extend_from_slice(&[2, 10, 0, 0, 2, 0, 0, 0, 0, 0]); // override IRQ0 -> GSI2
        for &(id, flags) in x2apic {
            body.extend_from_slice(&[9, 16, 0, 0]);
            body.extend_from_slice(&id.to_le_bytes());
            body.extend_from_slice(&flags.to_le_bytes());
            body.extend_from_slice(&id.to_le_bytes()); // uid
        }
        body.extend_from_slice(&[4, 6, 0xff, 0, 0, 1]); // local APIC NMI
        table(b"APIC", &body)
    }

    #[test]
    fn madt_lists_enabled_and_hotpluggable_processors() {
        let t = madt(&[(0, 1), (1, 1), (2, 0)], &[(300, 1)]);
        assert_eq!(
            madt_cpus(&t),
            [
                MadtCpu { apic_id: 0, enabled: true },
                MadtCpu { apic_id: 1, enabled: true },
                MadtCpu { apic_id: 2, enabled: false },
                MadtCpu { apic_id: 300, enabled: true },
            ]
        );
    }

    #[test]
    fn madt_truncated_or_garbled_never_panics() {
        let t = madt(&[(0, 1), (1, 1)], &[]);
        for cut in 0..t.len() {
            assert!(madt_cpus(&t[..cut]).len() <= 2);
        }
        let mut bad = t.clone();
        bad[HEADER + 8 + 1] = 0; // zero-length entry: stop, do not loop
        assert!(madt_cpus(&bad).is_empty());
        bad[HEADER + 8 + 1] = 200; // entry longer than the table
        assert!(madt_cpus(&bad).is_empty());
    }

    #[test]
    fn find_table_by_signature() {
        let mut m = machine(true);
        assert_eq!(find_table(&m, 0xf0000, b"APIC").unwrap().unwrap()[..4], *b"APIC");
        assert_eq!(find_table(&m, 0xf0000, b"HPET"), Ok(None));
        m.0[4].1 = madt(&[(0, 1), (1, 1)], &[]);
        let t = find_table(&m, 0xf0000, b"APIC").unwrap().unwrap();
        assert_eq!(madt_cpus(&t).len(), 2);
        m.0[4].1[40] ^= 1;
        assert_eq!(find_table(&m, 0xf0000, b"APIC"), Err(AcpiError::BadChecksum { what: "table", pa: 0x4000 }));
    }

    #[test]
    fn bad_tables_are_errors() {
        let mut m = machine(false);
        assert_eq!(find_virtio_mmio(&m, 0xe0000), Err(AcpiError::Unreadable { what: "RSDP", pa: 0xe0000 }));
        m.0[3].1[50] ^= 1; // DSDT byte
        assert_eq!(find_virtio_mmio(&m, 0xf0000), Err(AcpiError::BadChecksum { what: "DSDT", pa: 0x3000 }));
        let mut m = machine(false);
        m.0[0].1[0] = b'X';
        assert_eq!(find_virtio_mmio(&m, 0xf0000), Err(AcpiError::BadSignature { what: "RSDP", pa: 0xf0000 }));
        let mut m = machine(false);
        m.0[2].1[0..4].copy_from_slice(b"FACQ"); // no FADT any more
        assert_eq!(find_virtio_mmio(&m, 0xf0000), Err(AcpiError::NoFadt));
    }
}
