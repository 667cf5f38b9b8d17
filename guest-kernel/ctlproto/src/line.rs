//! Input bytes to command lines.
//!
//! The host sends text lines; `\n` or `\r` ends one (so `\r\n` works too:
//! it ends a line and then an empty one). Blank lines are skipped. A line
//! may hold at most [`MAX_LINE`] bytes; the bytes of a longer one are
//! dropped up to its end, and the line as a whole becomes an error, so that
//! a truncated command is never executed. Commands are printable text:
//! control bytes other than tab, and bytes that are not UTF-8, make the
//! line an error too.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// Longest line accepted, in bytes (without the line end).
pub const MAX_LINE: usize = 1024;

/// Why a line is not a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineError {
    /// More than [`MAX_LINE`] bytes arrived before the line ended.
    TooLong { len: usize },
    /// A control byte (0x00..0x1f but tab, or 0x7f) at byte offset `at`.
    ControlByte { byte: u8, at: usize },
    /// The bytes from offset `at` are not UTF-8.
    NotUtf8 { at: usize },
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLong { len } => write!(f, "line of {len} bytes is longer than {MAX_LINE}; ignored"),
            Self::ControlByte { byte, at } => write!(f, "control byte {byte:#04x} at offset {at}; line ignored"),
            Self::NotUtf8 { at } => write!(f, "bytes from offset {at} are not UTF-8; line ignored"),
        }
    }
}

/// Collects bytes into lines.
#[derive(Default)]
pub struct LineReader {
    /// The line so far (its first MAX_LINE bytes).
    bytes: Vec<u8>,
    /// Bytes of the line so far, kept ones and dropped ones.
    len: usize,
}

impl LineReader {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one input byte. At a line end, returns the finished line --
    /// its text without leading and trailing whitespace, or why it is not
    /// a command -- unless the line was blank.
    pub fn push(&mut self, byte: u8) -> Option<Result<String, LineError>> {
        if byte != b'\n' && byte != b'\r' {
            if self.bytes.len() < MAX_LINE {
                self.bytes.push(byte);
            }
            self.len = self.len.saturating_add(1);
            return None;
        }
        let len = core::mem::take(&mut self.len);
        let bytes = core::mem::take(&mut self.bytes);
        if len > MAX_LINE {
            return Some(Err(LineError::TooLong { len }));
        }
        if let Some(at) = bytes.iter().position(|&b| b.is_ascii_control() && b != b'\t') {
            return Some(Err(LineError::ControlByte { byte: bytes[at], at }));
        }
        match String::from_utf8(bytes) {
            Err(e) => Some(Err(LineError::NotUtf8 { at: e.utf8_error().valid_up_to() })),
            Ok(text) if text.trim().is_empty() => None,
            Ok(text) => Some(Ok(String::from(text.trim()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every result `push` gave while taking `input`.
    fn lines(input: &[u8]) -> Vec<Result<String, LineError>> {
        let mut reader = LineReader::new();
        input.iter().filter_map(|&b| reader.push(b)).collect()
    }

    fn ok(s: &str) -> Result<String, LineError> {
        Ok(String::from(s))
    }

    #[test]
    fn lines_end_at_lf_or_cr_and_blank_ones_are_skipped() {
        assert_eq!(lines(b"stats\nexit 3\r\n"), [ok("stats"), ok("exit 3")]);
        assert_eq!(lines(b"\n\r\n  \t \nstats\r"), [ok("stats")]);
        assert_eq!(lines(b"  run  pipe ops=1 \t\n"), [ok("run  pipe ops=1")]);
        // Nothing before the line ends.
        assert_eq!(lines(b"stats"), []);
    }

    #[test]
    fn overlong_lines_are_one_error_and_the_next_line_is_intact() {
        let mut input = alloc::vec![b'x'; MAX_LINE];
        input.extend_from_slice(b"\nstats\n");
        assert_eq!(lines(&input)[0], ok(core::str::from_utf8(&input[..MAX_LINE]).unwrap()));
        let mut input = alloc::vec![b'x'; 5000];
        input.extend_from_slice(b"\nstats\n");
        assert_eq!(lines(&input), [Err(LineError::TooLong { len: 5000 }), ok("stats")]);
        assert_eq!(
            LineError::TooLong { len: 5000 }.to_string(),
            "line of 5000 bytes is longer than 1024; ignored"
        );
        // A run of 1025 spaces is still too long, not blank.
        let mut spaces = alloc::vec![b' '; MAX_LINE + 1];
        spaces.push(b'\n');
        assert_eq!(lines(&spaces), [Err(LineError::TooLong { len: MAX_LINE + 1 })]);
    }

    #[test]
    fn control_bytes_and_bad_utf8_are_errors() {
        assert_eq!(lines(b"sta\x1b[2Jts\nstats\n"), [Err(LineError::ControlByte { byte: 0x1b, at: 3 }), ok("stats")]);
        assert_eq!(lines(b"\0\n"), [Err(LineError::ControlByte { byte: 0, at: 0 })]);
        assert_eq!(lines(b"exit\x7f\n"), [Err(LineError::ControlByte { byte: 0x7f, at: 4 })]);
        assert_eq!(lines(b"run \xff\xfe\n"), [Err(LineError::NotUtf8 { at: 4 })]);
        assert_eq!(lines("run grüße\n".as_bytes()), [ok("run grüße")]);
        assert_eq!(lines(b"run\tpipe\n"), [ok("run\tpipe")]);
    }
}
