//! ferrite's control protocol, the part that needs no kernel: a host (the
//! tuner, JMH) sends command lines over the control channel (COM1 with
//! `ctl=serial`, virtio-console with `ctl=console`) and gets exactly one
//! JSON object on one line back for each.
//!
//! - [`line`]: input bytes to lines (length limit, control bytes, UTF-8);
//! - [`command`]: a line to a typed [`Command`];
//! - [`json`]: the one-line JSON writer every answer and result uses, and
//!   the error answer `{"error":"..."}`;
//! - [`params`]: a workload's `key=value` parameters, read with range checks,
//!   and the refusal of any key the workload does not read.
//!
//! The kernel (`kernel/src/ctl.rs`) moves the bytes and executes the
//! commands; everything here is unit-tested on the host.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod command;
pub mod json;
pub mod line;
pub mod params;

pub use command::{Command, ParseError, Sysctl, parse};
pub use line::{LineError, LineReader, MAX_LINE};
pub use params::Params;

/// What the control thread sends first, once it reads commands.
pub const READY: &str = r#"{"ctl":"ready"}"#;

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::{String, ToString};
    use alloc::vec::Vec;

    /// Whether `s` is exactly one JSON string literal (RFC 8259, section 7).
    fn is_json_string(s: &str) -> bool {
        let Some(body) = s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) else {
            return false;
        };
        let mut chars = body.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return false,
                '\\' => match chars.next() {
                    Some('"' | '\\' | '/' | 'b' | 'f' | 'n' | 'r' | 't') => {}
                    Some('u') if (0..4).all(|_| chars.next().is_some_and(|h| h.is_ascii_hexdigit())) => {}
                    _ => return false,
                },
                c if (c as u32) < 0x20 => return false,
                _ => {}
            }
        }
        true
    }

    /// The error answers the kernel sends for `input`: one per line that is
    /// not a command (blank lines get none).
    fn error_answers(input: &[u8]) -> Vec<String> {
        let mut reader = LineReader::new();
        input
            .iter()
            .filter_map(|&b| reader.push(b))
            .filter_map(|line| match line {
                Ok(text) => parse(&text).err().map(|e| json::error(&e.to_string())),
                Err(e) => Some(json::error(&e.to_string())),
            })
            .collect()
    }

    #[test]
    fn every_error_answer_is_one_json_object_on_one_line() {
        let lines: [&[u8]; 10] = [
            br#"frob "quoted" back\slash"#,
            br#"run pipe "x""#,
            br"exit \u0000",
            br#"sysctl a="1""#,
            b"stats \tnow",
            b"run\tpipe\tops",
            "r\u{fc}n \u{2028} \u{1f600}".as_bytes(),
            b"run \xff\xfe",
            b"\x1b[2J",
            b"x\x7fy",
        ];
        let mut input = Vec::new();
        for line in lines {
            input.extend_from_slice(line);
            input.push(b'\n');
        }
        input.extend(core::iter::repeat_n(b'"', MAX_LINE + 1));
        input.extend_from_slice(b"\n\n");
        let answers = error_answers(&input);
        assert_eq!(answers.len(), lines.len() + 1, "{answers:?}");
        for answer in answers {
            let message = answer.strip_prefix(r#"{"error":"#).and_then(|s| s.strip_suffix('}'));
            assert!(message.is_some_and(is_json_string), "{answer}");
            assert!(!answer.contains(['\n', '\r']), "{answer}");
        }
    }
}
