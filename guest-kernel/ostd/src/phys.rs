//! Reading physical memory the boot loader filled in (boot info structures).
//!
//! Both sets of boot page tables (the kernel's own in boot.S and panvm's) map
//! physical `0..DIRECT_MAP_END` at `KERNEL_VMA + phys`, so physical memory is
//! reached through that upper-half alias. (PVM native mode wants kernel
//! accesses in the upper half; the identity map is only for early boot.)

/// Where the kernel's upper-half map starts; same value in boot.S and linker.ld.
pub(crate) const KERNEL_VMA: u64 = 0xffff_ffff_8000_0000;
/// Physical memory below this is mapped at `KERNEL_VMA + phys`.
pub(crate) const DIRECT_MAP_END: u64 = 2 << 30;

/// The virtual address of physical `[pa, pa + len)`, if wholly mapped.
pub(crate) fn phys_to_virt(pa: u64, len: u64) -> Option<u64> {
    let end = pa.checked_add(len)?;
    (end <= DIRECT_MAP_END).then_some(KERNEL_VMA + pa)
}

/// The bytes of physical `[pa, pa + len)`, for boot info the loader wrote.
///
/// Panics if the range is outside the direct map.
///
/// Callers must only name memory that nothing writes while the kernel runs
/// (boot structures are never written after boot; the heap is placed clear of
/// them), so handing out shared `'static` slices is sound.
pub(crate) fn boot_bytes(pa: u64, len: usize) -> &'static [u8] {
    let Some(va) = phys_to_virt(pa, len as u64) else {
        panic!("boot data at {pa:#x}+{len:#x} is outside the direct map (< {DIRECT_MAP_END:#x})");
    };
    // SAFETY: [va, va+len) is mapped (checked above: inside the direct map,
    // which is always present), is plain RAM written by the loader before
    // boot, and per this function's contract is never written afterwards, so
    // an immutable 'static borrow cannot alias a write. u8 has no validity or
    // alignment requirements.
    unsafe { core::slice::from_raw_parts(va as *const u8, len) }
}

/// A NUL-terminated string at `pa` (without the NUL), at most `max` bytes.
pub(crate) fn boot_c_string(pa: u64, max: usize) -> &'static [u8] {
    // Never read past the direct map, even while looking for the NUL.
    let readable = DIRECT_MAP_END.saturating_sub(pa).min(max as u64) as usize;
    let bytes = boot_bytes(pa, readable);
    let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    &bytes[..len]
}
