//! Which CPUs a machine has, for a kernel that starts its application
//! processors itself (QEMU's PVH entry; panvm enters every vCPU at once and
//! needs none of this).
//!
//! Sources, in the kernel's order of preference (BOOT.md, "SMP under QEMU"):
//! the ACPI MADT (parsed in `virtio_core::acpi::madt_cpus`), the Intel
//! MultiProcessor Specification 1.4 table parsed here, or a `cpus=N`
//! command-line word. Whatever the source, [`boot_order`] turns the APIC ids
//! into CPU indices: the boot CPU is index 0, the others follow in table order.

use alloc::vec::Vec;
use core::fmt;

use crate::le::u32_at;

/// "_MP_": the MP floating pointer structure's signature.
const FLOATING_SIGNATURE: &[u8; 4] = b"_MP_";
const FLOATING_LEN: usize = 16;
/// "PCMP": the MP configuration table's signature.
const CONFIG_SIGNATURE: &[u8; 4] = b"PCMP";
/// Bytes of the configuration table header; entries follow it.
pub const CONFIG_HEADER_LEN: usize = 44;
/// The kernel never reads a larger configuration table (QEMU's: < 1 KiB).
const CONFIG_MAX_LEN: usize = 64 << 10;

/// The MP floating pointer structure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MpFloating {
    /// Physical address of the configuration table (0: none).
    pub config_pa: u32,
    /// Feature byte 1: non-zero names one of the spec's default
    /// configurations (two CPUs, APIC ids 0 and 1) instead of a table.
    pub default_config: u8,
}

/// Finds a valid floating pointer structure in `area` (the spec's search
/// areas: the first KiB of the EBDA, the last KiB of base memory, the BIOS
/// ROM at 0xf0000..0x100000): 16-byte aligned, signature, length 1 (in
/// 16-byte units), bytes summing to zero. Returns its offset in `area`.
pub fn find_floating(area: &[u8]) -> Option<(usize, MpFloating)> {
    area.chunks_exact(FLOATING_LEN).enumerate().find_map(|(i, s)| {
        let valid = &s[..4] == FLOATING_SIGNATURE && s[8] == 1 && checksum(s) == 0;
        valid.then(|| (i * FLOATING_LEN, MpFloating { config_pa: u32_at(s, 4).unwrap_or(0), default_config: s[11] }))
    })
}

/// One processor entry of the MP configuration table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MpCpu {
    pub apic_id: u32,
    /// CPU flags bit 0 (EN): usable.
    pub enabled: bool,
    /// CPU flags bit 1 (BP): the bootstrap processor.
    pub bsp: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MpError {
    /// The configuration table's bytes at `pa` (`len` of them) cannot be read.
    Unreadable { pa: u64, len: usize },
    BadSignature,
    BadLength(usize),
    BadChecksum,
    /// An entry type the spec (1.4, base table) does not define, at this offset.
    UnknownEntry { kind: u8, offset: usize },
}

impl fmt::Display for MpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreadable { pa, len } => write!(f, "configuration table at {pa:#x}+{len:#x} is not readable"),
            Self::BadSignature => f.write_str("MP configuration table: bad signature"),
            Self::BadLength(len) => write!(f, "MP configuration table: bad length {len}"),
            Self::BadChecksum => f.write_str("MP configuration table: bad checksum"),
            Self::UnknownEntry { kind, offset } => {
                write!(f, "MP configuration table: unknown entry type {kind} at offset {offset}")
            }
        }
    }
}

/// The base table length from a configuration table header (its first
/// [`CONFIG_HEADER_LEN`] bytes), so the caller knows how much to read.
pub fn config_len(header: &[u8]) -> Result<usize, MpError> {
    if header.get(..4) != Some(&CONFIG_SIGNATURE[..]) {
        return Err(MpError::BadSignature);
    }
    let Some(&[lo, hi]) = header.get(4..6) else {
        return Err(MpError::BadLength(header.len()));
    };
    let len = usize::from(u16::from_le_bytes([lo, hi]));
    if (CONFIG_HEADER_LEN..=CONFIG_MAX_LEN).contains(&len) { Ok(len) } else { Err(MpError::BadLength(len)) }
}

/// The processor entries (type 0, 20 bytes) of a configuration table
/// (`table`: the whole base table, header included), checksum verified.
/// Bus, I/O APIC, I/O and local interrupt entries (types 1..=4, 8 bytes)
/// are skipped. The entries are walked to the end of the base table, as
/// Linux does (`smp_read_mpc`): the header's entry count is not trusted
/// (qboot, QEMU microvm's firmware, leaves it 0).
pub fn mp_cpus(table: &[u8]) -> Result<Vec<MpCpu>, MpError> {
    let len = config_len(table)?;
    let table = table.get(..len).ok_or(MpError::BadLength(len))?;
    if checksum(table) != 0 {
        return Err(MpError::BadChecksum);
    }
    let mut cpus = Vec::new();
    let mut at = CONFIG_HEADER_LEN;
    while let Some(&kind) = table.get(at) {
        let entry_len = match kind {
            0 => 20,
            1..=4 => 8,
            _ => return Err(MpError::UnknownEntry { kind, offset: at }),
        };
        let Some(entry) = table.get(at..at + entry_len) else {
            break; // a truncated last entry: keep what came before
        };
        if kind == 0 {
            cpus.push(MpCpu { apic_id: u32::from(entry[1]), enabled: entry[3] & 1 != 0, bsp: entry[3] & 2 != 0 });
        }
        at += entry_len;
    }
    Ok(cpus)
}

/// Where the CPU list came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Madt,
    MpTable,
    MpDefault,
    Cmdline,
    None,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Self::Madt => "ACPI MADT",
            Self::MpTable => "MP table",
            Self::MpDefault => "MP default configuration",
            Self::Cmdline => "cpus= on the command line",
            Self::None => "no MADT, MP table or cpus=",
        }
    }
}

/// What [`find_mp_cpus`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MpSearch {
    /// No floating pointer structure.
    NotFound,
    /// The floating pointer at `pa` names a default configuration: two
    /// CPUs, APIC ids 0 and 1.
    Default { pa: u64 },
    /// The processors of the configuration table that the floating pointer
    /// at `pa` names, or why that table is unusable.
    Table { pa: u64, cpus: Result<Vec<MpCpu>, MpError> },
}

/// Searches physical memory for the MP tables through `read` (which fills
/// its buffer from a physical address, or says false where it cannot): the
/// floating pointer where the spec (1.4, 4.1) says -- the first KiB of the
/// EBDA (its segment is the word at 0x40e in the BIOS data area), the last
/// KiB of base memory, the BIOS ROM -- and in the first KiB of memory, as
/// Linux does; then the configuration table it names.
pub fn find_mp_cpus(read: impl Fn(u64, &mut [u8]) -> bool) -> MpSearch {
    let mut ebda_segment = [0u8; 2];
    let ebda = if read(0x40e, &mut ebda_segment) { u64::from(u16::from_le_bytes(ebda_segment)) << 4 } else { 0 };
    let mut areas = Vec::new();
    if (0x8_0000..0xa_0000).contains(&ebda) {
        areas.push((ebda, 1024));
    }
    areas.extend([(0x9_fc00, 1024), (0xf_0000, 0x1_0000), (0, 1024)]);
    let found = areas.into_iter().find_map(|(pa, len)| {
        let mut area = alloc::vec![0u8; len];
        if !read(pa, &mut area) {
            return None;
        }
        find_floating(&area).map(|(offset, f)| (pa + offset as u64, f))
    });
    match found {
        None => MpSearch::NotFound,
        Some((pa, floating)) if floating.default_config != 0 => MpSearch::Default { pa },
        Some((pa, floating)) => MpSearch::Table { pa, cpus: read_config(&read, u64::from(floating.config_pa)) },
    }
}

/// The processors of the configuration table at `pa`, read through `read`.
fn read_config(read: &impl Fn(u64, &mut [u8]) -> bool, pa: u64) -> Result<Vec<MpCpu>, MpError> {
    let mut header = [0u8; CONFIG_HEADER_LEN];
    if pa == 0 || !read(pa, &mut header) {
        return Err(MpError::Unreadable { pa, len: CONFIG_HEADER_LEN });
    }
    let len = config_len(&header)?;
    let mut table = alloc::vec![0u8; len];
    if !read(pa, &mut table) {
        return Err(MpError::Unreadable { pa, len });
    }
    mp_cpus(&table)
}

/// CPU index -> APIC id: `bsp` (the APIC id of the CPU running this) first,
/// then every other id of `ids` in order, each once, at most `limit` in all.
pub fn boot_order(bsp: u32, ids: impl IntoIterator<Item = u32>, limit: usize) -> Vec<u32> {
    let mut order = Vec::new();
    order.push(bsp);
    for id in ids {
        if order.len() >= limit.max(1) {
            break;
        }
        if !order.contains(&id) {
            order.push(id);
        }
    }
    order.truncate(limit.max(1));
    order
}

fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |s, &b| s.wrapping_add(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fix_checksum(bytes: &mut [u8], at: usize) {
        bytes[at] = 0;
        bytes[at] = 0u8.wrapping_sub(checksum(bytes));
    }

    /// A configuration table shaped like SeaBIOS's/qboot's: processors, a
    /// bus, an I/O APIC, I/O interrupt entries.
    fn config(cpus: &[(u8, u8)]) -> Vec<u8> {
        let mut t = vec![0u8; CONFIG_HEADER_LEN];
        t[..4].copy_from_slice(CONFIG_SIGNATURE);
        t[6] = 4; // spec 1.4
        t[8..16].copy_from_slice(b"QEMU    ");
        t[36..40].copy_from_slice(&0xfee0_0000u32.to_le_bytes());
        let mut count = 0u16;
        for &(id, flags) in cpus {
            let mut e = vec![0, id, 0x14, flags];
            e.extend_from_slice(&0x663u32.to_le_bytes());
            e.extend_from_slice(&0x201u32.to_le_bytes());
            e.extend_from_slice(&[0; 8]);
            t.extend_from_slice(&e);
            count += 1;
        }
        t.extend_from_slice(&[1, 0, b'I', b'S', b'A', b' ', b' ', b' ']);
        t.extend_from_slice(&[2, 0, 0x11, 1, 0, 0, 0xc0, 0xfe]);
        for irq in 0..3u8 {
            t.extend_from_slice(&[3, 0, 0, 0, 0, irq, 0, irq]);
        }
        count += 5;
        let len = t.len() as u16;
        t[4..6].copy_from_slice(&len.to_le_bytes());
        t[34..36].copy_from_slice(&count.to_le_bytes());
        fix_checksum(&mut t, 7);
        t
    }

    fn floating(config_pa: u32) -> [u8; 16] {
        let mut f = [0u8; 16];
        f[..4].copy_from_slice(FLOATING_SIGNATURE);
        f[4..8].copy_from_slice(&config_pa.to_le_bytes());
        f[8] = 1;
        f[9] = 4;
        fix_checksum(&mut f, 10);
        f
    }

    #[test]
    fn finds_the_floating_pointer_on_a_paragraph_boundary() {
        let mut area = vec![0u8; 1024];
        area[0x30..0x34].copy_from_slice(FLOATING_SIGNATURE); // bad checksum: skipped
        area[0x105..0x115].copy_from_slice(&floating(0x9fc10)); // unaligned: skipped
        area[0x200..0x210].copy_from_slice(&floating(0x9fc10));
        assert_eq!(find_floating(&area), Some((0x200, MpFloating { config_pa: 0x9fc10, default_config: 0 })));
        assert_eq!(find_floating(&area[..0x200]), None);
    }

    #[test]
    fn lists_processors_and_skips_other_entries() {
        let t = config(&[(0, 3), (1, 1), (2, 0)]);
        assert_eq!(config_len(&t[..CONFIG_HEADER_LEN]), Ok(t.len()));
        assert_eq!(
            mp_cpus(&t),
            Ok(vec![
                MpCpu { apic_id: 0, enabled: true, bsp: true },
                MpCpu { apic_id: 1, enabled: true, bsp: false },
                MpCpu { apic_id: 2, enabled: false, bsp: false },
            ])
        );
    }

    /// qboot's table: correct length and checksum, entry count 0.
    #[test]
    fn an_entry_count_of_zero_is_ignored() {
        let mut t = config(&[(0, 3), (1, 1)]);
        t[34..36].copy_from_slice(&0u16.to_le_bytes());
        fix_checksum(&mut t, 7);
        assert_eq!(mp_cpus(&t).map(|c| c.len()), Ok(2));
    }

    #[test]
    fn bad_tables_are_errors_not_panics() {
        let t = config(&[(0, 3), (1, 1)]);
        let mut bad = t.clone();
        bad[50] ^= 1;
        assert_eq!(mp_cpus(&bad), Err(MpError::BadChecksum));
        bad[0] = b'X';
        assert_eq!(mp_cpus(&bad), Err(MpError::BadSignature));
        let mut bad = t.clone();
        bad[CONFIG_HEADER_LEN] = 9;
        fix_checksum(&mut bad, 7);
        assert_eq!(mp_cpus(&bad), Err(MpError::UnknownEntry { kind: 9, offset: CONFIG_HEADER_LEN }));
        for cut in 0..t.len() {
            let _ = mp_cpus(&t[..cut]);
            let _ = config_len(&t[..cut.min(CONFIG_HEADER_LEN)]);
        }
        let mut short = t.clone();
        short[4..6].copy_from_slice(&10u16.to_le_bytes());
        assert_eq!(mp_cpus(&short), Err(MpError::BadLength(10)));
    }

    /// Physical memory of `size` bytes with `parts` written at their addresses.
    fn memory(size: usize, parts: &[(usize, &[u8])]) -> impl Fn(u64, &mut [u8]) -> bool + use<> {
        let mut mem = vec![0u8; size];
        for (at, bytes) in parts {
            mem[*at..*at + bytes.len()].copy_from_slice(bytes);
        }
        move |pa, buf: &mut [u8]| {
            let Some(src) = mem.get(pa as usize..pa as usize + buf.len()) else { return false };
            buf.copy_from_slice(src);
            true
        }
    }

    #[test]
    fn finds_the_mp_table_in_the_bios_rom_or_the_ebda() {
        let table = config(&[(0, 3), (1, 1)]);
        let rom = memory(1 << 20, &[(0xf_5a40, &floating(0x9_fc10)), (0x9_fc10, &table)]);
        let expected = vec![MpCpu { apic_id: 0, enabled: true, bsp: true }, MpCpu { apic_id: 1, enabled: true, bsp: false }];
        assert_eq!(find_mp_cpus(rom), MpSearch::Table { pa: 0xf_5a40, cpus: Ok(expected.clone()) });
        // EBDA at segment 0x9000 (0x90000), found before the ROM.
        let ebda = memory(1 << 20, &[(0x40e, &[0x00, 0x90]), (0x9_0100, &floating(0x9_0400)), (0x9_0400, &table)]);
        assert_eq!(find_mp_cpus(ebda), MpSearch::Table { pa: 0x9_0100, cpus: Ok(expected) });
    }

    #[test]
    fn mp_search_without_a_usable_table() {
        assert_eq!(find_mp_cpus(memory(1 << 20, &[])), MpSearch::NotFound);
        // Only the first 640 KiB readable: the ROM area cannot be searched.
        assert_eq!(find_mp_cpus(memory(0xa_0000, &[])), MpSearch::NotFound);
        let mut default = floating(0);
        default[11] = 5;
        fix_checksum(&mut default, 10);
        assert_eq!(find_mp_cpus(memory(1 << 20, &[(0xf_0000, &default)])), MpSearch::Default { pa: 0xf_0000 });
        let dangling = memory(1 << 20, &[(0x9_fc00, &floating(0x20_0000))]);
        let unreadable = Err(MpError::Unreadable { pa: 0x20_0000, len: CONFIG_HEADER_LEN });
        assert_eq!(find_mp_cpus(dangling), MpSearch::Table { pa: 0x9_fc00, cpus: unreadable });
        let none = memory(1 << 20, &[(0xf_0000, &floating(0))]);
        let unreadable = Err(MpError::Unreadable { pa: 0, len: CONFIG_HEADER_LEN });
        assert_eq!(find_mp_cpus(none), MpSearch::Table { pa: 0xf_0000, cpus: unreadable });
    }

    #[test]
    fn boot_order_puts_the_boot_cpu_first_once_and_caps() {
        assert_eq!(boot_order(0, [0, 1, 2, 3], 64), [0, 1, 2, 3]);
        assert_eq!(boot_order(2, [0, 1, 2, 3], 64), [2, 0, 1, 3]);
        assert_eq!(boot_order(1, [0, 1, 1, 0, 5], 64), [1, 0, 5]);
        assert_eq!(boot_order(0, [0, 1, 2, 3], 2), [0, 1]);
        assert_eq!(boot_order(3, [0, 1, 2, 3], 1), [3]);
        assert_eq!(boot_order(0, [], 0), [0]);
    }
}
