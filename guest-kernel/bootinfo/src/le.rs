//! Little-endian field readers. They return `None` instead of panicking when
//! the slice is too short, so a truncated structure is an error, not a crash.

pub(crate) fn u32_at(bytes: &[u8], offset: usize) -> Option<u32> {
    let field = bytes.get(offset..offset.checked_add(4)?)?;
    Some(u32::from_le_bytes(field.try_into().ok()?))
}

pub(crate) fn u64_at(bytes: &[u8], offset: usize) -> Option<u64> {
    let field = bytes.get(offset..offset.checked_add(8)?)?;
    Some(u64::from_le_bytes(field.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_little_endian_and_rejects_short_slices() {
        let bytes = [0x78, 0xc5, 0x6e, 0x33, 1, 0, 0, 0, 0, 0, 0];
        assert_eq!(u32_at(&bytes, 0), Some(0x336e_c578));
        assert_eq!(u64_at(&bytes, 0), Some(0x0000_0001_336e_c578));
        assert_eq!(u64_at(&bytes, 4), None);
        assert_eq!(u32_at(&bytes, usize::MAX), None);
    }
}
