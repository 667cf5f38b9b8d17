//! A small JSON object writer for one-line answers. Strings are escaped as
//! RFC 8259 requires (quote, backslash, control characters), so a value
//! taken from the host's input -- an unknown command, a file name -- can
//! never break the line or the object.

use alloc::string::String;
use core::fmt::Write;

/// An object under construction: `Json::new().str("a", "x").u64("b", 1).finish()`
/// gives `{"a":"x","b":1}`.
pub struct Json {
    out: String,
    first: bool,
}

impl Default for Json {
    fn default() -> Self {
        Self::new()
    }
}

impl Json {
    pub fn new() -> Self {
        Self { out: String::from("{"), first: true }
    }

    fn key(&mut self, key: &str) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        push_string(&mut self.out, key);
        self.out.push(':');
    }

    pub fn str(mut self, key: &str, value: &str) -> Self {
        self.key(key);
        push_string(&mut self.out, value);
        self
    }

    pub fn u64(mut self, key: &str, value: u64) -> Self {
        self.key(key);
        let _ = write!(self.out, "{value}");
        self
    }

    pub fn bool(mut self, key: &str, value: bool) -> Self {
        self.key(key);
        self.out.push_str(if value { "true" } else { "false" });
        self
    }

    /// A number with one decimal (ns figures).
    pub fn f64(mut self, key: &str, value: f64) -> Self {
        self.key(key);
        let _ = write!(self.out, "{value:.1}");
        self
    }

    /// `value` is already JSON (an array or object).
    pub fn raw(mut self, key: &str, value: &str) -> Self {
        self.key(key);
        self.out.push_str(value);
        self
    }

    pub fn finish(mut self) -> String {
        self.out.push('}');
        self.out
    }
}

/// `[a,b,c]` from numbers.
pub fn array<T: core::fmt::Display>(values: impl IntoIterator<Item = T>) -> String {
    let mut out = String::from("[");
    for (i, v) in values.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{v}");
    }
    out.push(']');
    out
}

/// Appends `s` as a JSON string: quoted, with `"`, `\` and every control
/// character escaped (JSON requires it for U+0000..U+001F; DEL and the C1
/// controls are escaped too, so no answer can move a terminal's cursor).
/// Other characters, non-ASCII ones included, are valid as they are.
pub fn push_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The error answer: `{"error":"MESSAGE"}`.
pub fn error(message: &str) -> String {
    Json::new().str("error", message).finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec::Vec;

    #[test]
    fn writes_objects_in_key_order() {
        let line = Json::new().str("workload", "pipe").u64("ops", 10).f64("ns_per_op", 2.25).bool("keep", true).finish();
        assert_eq!(line, r#"{"workload":"pipe","ops":10,"ns_per_op":2.2,"keep":true}"#);
        assert_eq!(Json::new().finish(), "{}");
        let nested = Json::new().raw("sysctl", &Json::new().u64("a", 1).finish()).raw("v", &array([1, 2])).finish();
        assert_eq!(nested, r#"{"sysctl":{"a":1},"v":[1,2]}"#);
        assert_eq!(array(Vec::<u64>::new()), "[]");
    }

    #[test]
    fn escapes_what_json_requires() {
        assert_eq!(error(r#"say "hi" \ bye"#), r#"{"error":"say \"hi\" \\ bye"}"#);
        assert_eq!(error("a\nb\rc\td"), r#"{"error":"a\nb\rc\td"}"#);
        assert_eq!(error("\u{0}\u{1b}\u{7f}"), r#"{"error":"\u0000\u001b\u007f"}"#);
        assert_eq!(error("grüße ✓"), "{\"error\":\"grüße ✓\"}");
    }

    #[test]
    fn every_char_stays_on_one_line_and_in_the_string() {
        // All of Latin-1 plus a few multi-byte characters: never a raw
        // control character, and exactly the two delimiting quotes unescaped.
        let all: alloc::string::String = (0u32..0x100).chain([0x2028, 0xfeff, 0x1f600]).filter_map(char::from_u32).collect();
        let line = error(&all);
        assert!(!line.chars().any(|c| c.is_control()), "{line:?}");
        let inner = line.strip_prefix("{\"error\":\"").and_then(|s| s.strip_suffix("\"}")).unwrap();
        let bytes = inner.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'"' {
                let backslashes = bytes[..i].iter().rev().take_while(|&&c| c == b'\\').count();
                assert!(backslashes % 2 == 1, "unescaped quote at {i} in {line:?}");
            }
        }
        assert!(line.to_string().ends_with("\"}"));
    }
}
