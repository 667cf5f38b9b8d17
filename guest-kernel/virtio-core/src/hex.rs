//! Hex digits for results (`sha256`, rng samples) and parameters (`pattern=5a`).

use alloc::string::String;

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Lowercase hex, two digits per byte.
pub fn to_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

/// One byte from one or two hex digits, with an optional `0x` prefix.
pub fn parse_byte(s: &str) -> Option<u8> {
    let digits = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s);
    if digits.is_empty() || digits.len() > 2 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u8::from_str_radix(digits, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        assert_eq!(to_hex(&[0x00, 0x5a, 0xff]), "005aff");
        assert_eq!(to_hex(&[]), "");
        assert_eq!(parse_byte("5a"), Some(0x5a));
        assert_eq!(parse_byte("0xA5"), Some(0xa5));
        assert_eq!(parse_byte("f"), Some(0x0f));
        assert_eq!(parse_byte(""), None);
        assert_eq!(parse_byte("100"), None);
        assert_eq!(parse_byte("zz"), None);
        assert_eq!(parse_byte("+1"), None);
    }
}
