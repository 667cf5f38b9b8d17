//! Workload parameters: the `key=value` words after `run NAME` (or on the
//! kernel command line with `workload=NAME`), read with checks, so that a
//! bad value is an error message rather than a panic, a hang or an
//! allocation that cannot succeed. Every number a workload reads names
//! the range it accepts.

use alloc::format;
use alloc::string::String;
use core::ops::RangeInclusive;

use bootinfo::Cmdline;
use bootinfo::cmdline::parse_u64;

/// The range of a parameter that takes any value (seeds).
pub const ANY: RangeInclusive<u64> = 0..=u64::MAX;

pub struct Params<'a> {
    words: Cmdline<'a>,
}

impl<'a> Params<'a> {
    pub fn new(words: Cmdline<'a>) -> Self {
        Self { words }
    }

    /// `key=N` if given (it must lie in `range`), else `default` (not
    /// checked: the caller's own choice).
    pub fn u64(&self, key: &str, default: u64, range: RangeInclusive<u64>) -> Result<u64, String> {
        let Some(text) = self.words.get(key) else {
            return Ok(default);
        };
        let value = parse_u64(text).ok_or_else(|| format!("{key}={text}: not a number (decimal, or hex with 0x)"))?;
        if !range.contains(&value) {
            return Err(format!("{key}={value}: out of range {}..={}", range.start(), range.end()));
        }
        Ok(value)
    }

    /// `key=TEXT` if given, else `default`.
    pub fn str(&self, key: &str, default: &'a str) -> &'a str {
        self.words.get(key).unwrap_or(default)
    }

    /// `key=TEXT`, which must be one of `allowed`; `default` if absent.
    pub fn choice(&self, key: &str, default: &'a str, allowed: &[&str]) -> Result<&'a str, String> {
        let value = self.str(key, default);
        if allowed.contains(&value) {
            Ok(value)
        } else {
            Err(format!("{key}={value}: expected one of {}", allowed.join(", ")))
        }
    }

    /// `key=0` or `key=1`; false if absent.
    pub fn flag(&self, key: &str) -> Result<bool, String> {
        Ok(self.u64(key, 0, 0..=1)? == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(text: &str) -> Params<'_> {
        Params::new(Cmdline::new(text))
    }

    #[test]
    fn numbers_in_range_or_a_clear_error() {
        let p = params("ops=1000 qd=0 seed=0xffffffffffffffff bs=4k huge=99999999999999999999");
        assert_eq!(p.u64("ops", 5, 1..=10_000), Ok(1000));
        assert_eq!(p.u64("missing", 5, 1..=10), Ok(5));
        // A default is the caller's and is not checked.
        assert_eq!(p.u64("missing", 50, 1..=10), Ok(50));
        assert_eq!(p.u64("seed", 1, ANY), Ok(u64::MAX));
        assert_eq!(p.u64("qd", 8, 1..=256).unwrap_err(), "qd=0: out of range 1..=256");
        assert_eq!(p.u64("ops", 5, 1..=999).unwrap_err(), "ops=1000: out of range 1..=999");
        assert_eq!(p.u64("bs", 5, ANY).unwrap_err(), "bs=4k: not a number (decimal, or hex with 0x)");
        assert!(p.u64("huge", 5, ANY).is_err());
    }

    #[test]
    fn the_last_word_for_a_key_wins() {
        assert_eq!(params("ops=1 ops=2").u64("ops", 0, ANY), Ok(2));
    }

    #[test]
    fn strings_choices_and_flags() {
        let p = params("pin=split cache=mru keep_cache=1 force=0 bad=2 file=/a/b");
        assert_eq!(p.str("file", ""), "/a/b");
        assert_eq!(p.str("missing", "dflt"), "dflt");
        assert_eq!(p.choice("pin", "same", &["same", "split"]), Ok("split"));
        assert_eq!(p.choice("mode", "same", &["same", "split"]), Ok("same"));
        assert_eq!(p.choice("cache", "lru", &["lru", "arc"]).unwrap_err(), "cache=mru: expected one of lru, arc");
        assert_eq!(p.flag("keep_cache"), Ok(true));
        assert_eq!(p.flag("force"), Ok(false));
        assert_eq!(p.flag("absent"), Ok(false));
        assert_eq!(p.flag("bad").unwrap_err(), "bad=2: out of range 0..=1");
    }
}
