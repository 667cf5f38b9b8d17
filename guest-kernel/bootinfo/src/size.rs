//! Human-readable byte counts for boot messages ("639 KiB", "255 MiB").
//!
//! The largest binary unit that divides the size exactly is used, so the
//! printed number is never rounded: a memory map must not lie.

use core::fmt;

/// Displays a byte count in the largest exact unit (B, KiB, MiB, GiB, TiB).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size(pub u64);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
        let mut value = self.0;
        let mut unit = 0;
        while value != 0 && value.is_multiple_of(1024) && unit + 1 < UNITS.len() {
            value /= 1024;
            unit += 1;
        }
        write!(f, "{value} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::Size;

    #[test]
    fn uses_largest_exact_unit() {
        assert_eq!(Size(0).to_string(), "0 B");
        assert_eq!(Size(1000).to_string(), "1000 B");
        assert_eq!(Size(0x9fc00).to_string(), "639 KiB");
        assert_eq!(Size(256 << 20).to_string(), "256 MiB");
        assert_eq!(Size((255 << 20) + 512 * 1024).to_string(), "261632 KiB");
        assert_eq!(Size(4 << 30).to_string(), "4 GiB");
        assert_eq!(Size(1 << 50).to_string(), "1024 TiB");
    }
}
