//! The kernel command line: space-separated words, each `key=value` or a bare
//! `flag`, as on Linux (`test=panic bench=pio pio_batch=500`).
//!
//! No quoting: ferrite's parameters never contain spaces. When a key appears
//! more than once the last occurrence wins, so a harness can append overrides.

use core::fmt;

/// Longest command line the kernel reads (bytes, without the NUL).
pub const CMDLINE_MAX: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cmdline<'a> {
    text: &'a str,
}

/// A `key=value` parameter whose value is not a number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadNumber<'a> {
    pub key: &'a str,
    pub value: &'a str,
}

impl fmt::Display for BadNumber<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "command line: {}={} is not a number",
            self.key, self.value
        )
    }
}

impl<'a> Cmdline<'a> {
    pub const EMPTY: Cmdline<'static> = Cmdline { text: "" };

    pub fn new(text: &'a str) -> Self {
        Self { text }
    }

    /// Takes a C string as the loader stored it: everything up to the first
    /// NUL (or the whole slice). Bytes from the first invalid UTF-8 sequence
    /// on are dropped rather than failing the boot.
    pub fn from_c_bytes(bytes: &'a [u8]) -> Self {
        let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        let bytes = &bytes[..len];
        let text = match core::str::from_utf8(bytes) {
            Ok(text) => text,
            // `valid_up_to` marks a char boundary, so this cannot fail.
            Err(e) => core::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or(""),
        };
        Self { text }
    }

    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// All words as `(key, value)`; a bare flag has value `None`.
    pub fn params(&self) -> impl Iterator<Item = (&'a str, Option<&'a str>)> + 'a {
        self.text
            .split_ascii_whitespace()
            .map(|word| match word.split_once('=') {
                Some((key, value)) => (key, Some(value)),
                None => (word, None),
            })
    }

    /// The value of the last `key=value`; `Some("")` for `key=`; `None` if absent or a bare flag.
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.params()
            .filter(|&(k, _)| k == key)
            .filter_map(|(_, v)| v)
            .last()
    }

    /// True if `key` appears at all, as a flag or with a value.
    pub fn has(&self, key: &str) -> bool {
        self.params().any(|(k, _)| k == key)
    }

    /// `key=N` as a number (decimal, or hex with `0x`); `Ok(None)` if absent.
    pub fn get_u64(&self, key: &'a str) -> Result<Option<u64>, BadNumber<'a>> {
        match self.get(key) {
            None => Ok(None),
            Some(value) => parse_u64(value).map(Some).ok_or(BadNumber { key, value }),
        }
    }
}

/// A number as parameters write it: decimal, or hex with `0x`/`0X`.
pub fn parse_u64(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

impl fmt::Display for Cmdline<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_key_value_words_and_flags() {
        let c = Cmdline::new("  bench=pio  pio_batch=500 quiet\tconsole=ttyS0 ");
        let params: Vec<_> = c.params().collect();
        assert_eq!(
            params,
            [
                ("bench", Some("pio")),
                ("pio_batch", Some("500")),
                ("quiet", None),
                ("console", Some("ttyS0")),
            ]
        );
        assert_eq!(c.get("bench"), Some("pio"));
        assert_eq!(c.get("quiet"), None);
        assert!(c.has("quiet"));
        assert!(!c.has("test"));
    }

    #[test]
    fn last_occurrence_wins_and_value_may_contain_equals() {
        let c = Cmdline::new("test=panic test=triple-fault opt=a=b empty=");
        assert_eq!(c.get("test"), Some("triple-fault"));
        assert_eq!(c.get("opt"), Some("a=b"));
        assert_eq!(c.get("empty"), Some(""));
    }

    #[test]
    fn numbers_decimal_and_hex() {
        let c = Cmdline::new("pio_batch=10000 mask=0x1F bad=12x");
        assert_eq!(c.get_u64("pio_batch"), Ok(Some(10000)));
        assert_eq!(c.get_u64("mask"), Ok(Some(31)));
        assert_eq!(c.get_u64("missing"), Ok(None));
        let err = c.get_u64("bad").unwrap_err();
        assert_eq!(
            err,
            BadNumber {
                key: "bad",
                value: "12x"
            }
        );
        assert_eq!(err.to_string(), "command line: bad=12x is not a number");
    }

    #[test]
    fn c_string_stops_at_nul_and_survives_bad_utf8() {
        let c = Cmdline::from_c_bytes(b"test=panic\0garbage");
        assert_eq!(c.as_str(), "test=panic");
        let c = Cmdline::from_c_bytes(b"a=1 \xff\xfe b=2");
        assert_eq!(c.as_str(), "a=1 ");
        assert_eq!(Cmdline::from_c_bytes(b"").as_str(), "");
        assert_eq!(Cmdline::from_c_bytes(b"no-nul").as_str(), "no-nul");
    }

    #[test]
    fn empty_line_has_no_params() {
        assert_eq!(Cmdline::EMPTY.params().count(), 0);
        assert_eq!(Cmdline::EMPTY.to_string(), "");
    }
}
