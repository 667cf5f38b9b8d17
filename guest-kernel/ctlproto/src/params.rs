//! Workload parameters: the `key=value` words after `run NAME` (or on the
//! kernel command line with `workload=NAME`), read with checks, so that a
//! bad value is an error message rather than a panic, a hang or an
//! allocation that cannot succeed. Every number a workload reads names
//! the range it accepts.
//!
//! # Unknown parameters
//!
//! [`Params`] records every key a workload looks up. Once the workload has
//! read all its parameters, and before it does any work, it calls
//! [`Params::finish`]: with `run` ([`Params::new`]) a key it never looked
//! up is an error that names the key and the keys the workload takes
//! (`pipe: unknown parameter opz (pipe takes ops, pin, delay_ms)`), so a
//! typo cannot silently run with defaults. The known keys are the lookups
//! themselves, so the list cannot drift from the code; and a key looked up
//! for the first time after `finish` is an error as well (it could never
//! be given), which the first test of that workload shows. On the boot
//! command line ([`Params::boot`]) the other words belong to the kernel
//! (`ctl=`, tunables, `virtio_mmio.device=`, ...), so there `finish`
//! refuses nothing.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::ops::RangeInclusive;

use bootinfo::Cmdline;
use bootinfo::cmdline::parse_u64;

/// The range of a parameter that takes any value (seeds).
pub const ANY: RangeInclusive<u64> = 0..=u64::MAX;

pub struct Params<'a> {
    workload: &'a str,
    words: Cmdline<'a>,
    /// Unknown keys are errors (`run`), or belong to someone else (boot).
    strict: bool,
    /// The keys looked up so far, each once, in the order of their first lookup.
    known: RefCell<Vec<&'static str>>,
    finished: Cell<bool>,
}

impl<'a> Params<'a> {
    /// `run WORKLOAD words`: `finish` refuses every key the workload did not look up.
    pub fn new(workload: &'a str, words: Cmdline<'a>) -> Self {
        Self { workload, words, strict: true, known: RefCell::new(Vec::new()), finished: Cell::new(false) }
    }

    /// `workload=WORKLOAD` on the kernel command line `words`, whose other
    /// words are the kernel's: `finish` refuses nothing.
    pub fn boot(workload: &'a str, words: Cmdline<'a>) -> Self {
        Self { strict: false, ..Self::new(workload, words) }
    }

    pub fn workload(&self) -> &'a str {
        self.workload
    }

    /// The value of `key` (the last `key=...`), recording the lookup.
    fn get(&self, key: &'static str) -> Result<Option<&'a str>, String> {
        let mut known = self.known.borrow_mut();
        if !known.contains(&key) {
            if self.finished.get() {
                return Err(format!(
                    "{}: parameter {key} looked up after the check for unknown parameters \
                     (a bug: every parameter must be read before it)",
                    self.workload
                ));
            }
            known.push(key);
        }
        Ok(self.words.get(key))
    }

    /// `key=N` if given (it must lie in `range`), else `default` (not
    /// checked: the caller's own choice).
    pub fn u64(&self, key: &'static str, default: u64, range: RangeInclusive<u64>) -> Result<u64, String> {
        Ok(self.opt_u64(key, range)?.unwrap_or(default))
    }

    /// `key=N` if given (it must lie in `range`), else `None`: for a
    /// parameter whose default or tighter range depends on what the
    /// workload finds after [`finish`](Self::finish) (a disk's size), to be
    /// checked then with [`in_range`].
    pub fn opt_u64(&self, key: &'static str, range: RangeInclusive<u64>) -> Result<Option<u64>, String> {
        let Some(text) = self.get(key)? else {
            return Ok(None);
        };
        let value = parse_u64(text).ok_or_else(|| format!("{key}={text}: not a number (decimal, or hex with 0x)"))?;
        in_range(key, value, range).map(Some)
    }

    /// `key=TEXT` if given, else `default`.
    pub fn str(&self, key: &'static str, default: &'a str) -> Result<&'a str, String> {
        Ok(self.get(key)?.unwrap_or(default))
    }

    /// `key=TEXT`, which must be one of `allowed`; `default` if absent.
    pub fn choice(&self, key: &'static str, default: &'a str, allowed: &[&str]) -> Result<&'a str, String> {
        let value = self.str(key, default)?;
        if allowed.contains(&value) {
            Ok(value)
        } else {
            Err(format!("{key}={value}: expected one of {}", allowed.join(", ")))
        }
    }

    /// `key=0` or `key=1`; false if absent.
    pub fn flag(&self, key: &'static str) -> Result<bool, String> {
        Ok(self.u64(key, 0, 0..=1)? == 1)
    }

    /// The check for unknown parameters, once every parameter is read and
    /// before any work: with `run`, every key given must have been looked
    /// up. From now on only keys already looked up can be read.
    pub fn finish(&self) -> Result<(), String> {
        self.finished.set(true);
        if !self.strict {
            return Ok(());
        }
        let known = self.known.borrow();
        let mut unknown: Vec<&str> = Vec::new();
        for (key, _) in self.words.params() {
            if !known.contains(&key) && !unknown.contains(&key) {
                unknown.push(key);
            }
        }
        if unknown.is_empty() {
            return Ok(());
        }
        let workload = self.workload;
        let plural = if unknown.len() == 1 { "" } else { "s" };
        let takes = if known.is_empty() { String::from("no parameters") } else { known.join(", ") };
        Err(format!("{workload}: unknown parameter{plural} {} ({workload} takes {takes})", unknown.join(", ")))
    }

    /// Whether [`finish`](Self::finish) was called.
    pub fn finished(&self) -> bool {
        self.finished.get()
    }
}

/// `value` of `key`, if it lies in `range`.
pub fn in_range(key: &str, value: u64, range: RangeInclusive<u64>) -> Result<u64, String> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(format!("{key}={value}: out of range {}..={}", range.start(), range.end()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(text: &str) -> Params<'_> {
        Params::new("w", Cmdline::new(text))
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
        assert_eq!(p.opt_u64("ops", 1..=10_000), Ok(Some(1000)));
        assert_eq!(p.opt_u64("absent", 1..=2), Ok(None));
        assert_eq!(p.opt_u64("qd", 1..=2).unwrap_err(), "qd=0: out of range 1..=2");
        assert_eq!(in_range("length", 4096, 0..=8192), Ok(4096));
        assert_eq!(in_range("length", 4096, 0..=512).unwrap_err(), "length=4096: out of range 0..=512");
    }

    #[test]
    fn the_last_word_for_a_key_wins() {
        assert_eq!(params("ops=1 ops=2").u64("ops", 0, ANY), Ok(2));
    }

    #[test]
    fn strings_choices_and_flags() {
        let p = params("pin=split cache=mru keep_cache=1 force=0 bad=2 file=/a/b");
        assert_eq!(p.str("file", ""), Ok("/a/b"));
        assert_eq!(p.str("missing", "dflt"), Ok("dflt"));
        assert_eq!(p.choice("pin", "same", &["same", "split"]), Ok("split"));
        assert_eq!(p.choice("mode", "same", &["same", "split"]), Ok("same"));
        assert_eq!(p.choice("cache", "lru", &["lru", "arc"]).unwrap_err(), "cache=mru: expected one of lru, arc");
        assert_eq!(p.flag("keep_cache"), Ok(true));
        assert_eq!(p.flag("force"), Ok(false));
        assert_eq!(p.flag("absent"), Ok(false));
        assert_eq!(p.flag("bad").unwrap_err(), "bad=2: out of range 0..=1");
    }

    /// Reads `ops` and `pin`, then `delay_ms`, as a workload does; `finish`'s answer.
    fn pipe(text: &str) -> Result<(), String> {
        let p = Params::new("pipe", Cmdline::new(text));
        p.u64("ops", 1, ANY)?;
        p.str("pin", "same")?;
        p.u64("delay_ms", 0, ANY)?;
        p.finish()
    }

    #[test]
    fn every_key_given_must_have_been_looked_up() {
        assert_eq!(pipe(""), Ok(()));
        assert_eq!(pipe("ops=5 pin=split delay_ms=0"), Ok(()));
        assert_eq!(pipe("opz=5").unwrap_err(), "pipe: unknown parameter opz (pipe takes ops, pin, delay_ms)");
        // Each unknown key once, in the order given; known keys in the order of the lookups.
        assert_eq!(
            pipe("ops=5 x=1 pn=split x=2 hold_ms=9").unwrap_err(),
            "pipe: unknown parameters x, pn, hold_ms (pipe takes ops, pin, delay_ms)"
        );
        // Keys are case-sensitive, as the lookups are.
        assert_eq!(pipe("OPS=5").unwrap_err(), "pipe: unknown parameter OPS (pipe takes ops, pin, delay_ms)");
        // A value error comes from the lookup, before `finish`.
        assert_eq!(pipe("ops=x opz=5").unwrap_err(), "ops=x: not a number (decimal, or hex with 0x)");
    }

    #[test]
    fn a_key_looked_up_in_vain_is_still_known() {
        // A lookup that found nothing, or failed, still makes the key known:
        // the list is what the code reads, whatever was given.
        let p = params("a=1");
        assert_eq!(p.u64("a", 0, ANY), Ok(1));
        assert_eq!(p.str("b", ""), Ok(""));
        assert_eq!(p.finish(), Ok(()));
        let p = params("z=1");
        assert_eq!(p.finish().unwrap_err(), "w: unknown parameter z (w takes no parameters)");
    }

    #[test]
    fn after_finish_only_known_keys_can_be_read() {
        let p = params("ops=3 late=4");
        assert_eq!(p.u64("ops", 0, ANY), Ok(3));
        assert!(!p.finished());
        assert!(p.finish().is_err());
        assert!(p.finished());
        assert_eq!(p.u64("ops", 0, ANY), Ok(3));
        let late = "w: parameter late looked up after the check for unknown parameters \
                    (a bug: every parameter must be read before it)";
        assert_eq!(p.u64("late", 0, ANY).unwrap_err(), late);
        assert!(p.str("other", "").is_err());
        assert!(p.choice("other", "a", &["a"]).is_err());
        assert!(p.flag("other").is_err());
        // A refused late key does not become known.
        assert!(p.opt_u64("late", ANY).is_err());
    }

    #[test]
    fn the_boot_command_line_belongs_to_the_kernel_too() {
        let p = Params::boot("pipe", Cmdline::new("workload=pipe ops=5 ctl=console sched_nr_migrate=8 quiet"));
        assert_eq!(p.u64("ops", 1, ANY), Ok(5));
        assert_eq!(p.finish(), Ok(()));
        assert!(p.finished());
        assert_eq!(p.workload(), "pipe");
        // Reading too late is a bug there as well.
        assert!(p.u64("late", 0, ANY).is_err());
    }
}
