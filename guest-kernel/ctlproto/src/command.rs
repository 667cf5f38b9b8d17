//! Command lines to typed commands.
//!
//! ```text
//! sysctl                      every tunable
//! sysctl NAME                 one tunable
//! sysctl NAME=VALUE           set one (spaces around `=` allowed)
//! run WORKLOAD [key=value...] run a workload
//! stats                       kernel counters
//! exit [STATUS]               end the VM (STATUS 0..=255, default 0)
//! ```
//!
//! Words are separated by any run of spaces or tabs. Numbers are decimal,
//! or hex with `0x`. Whether a tunable or workload of that name exists is
//! the kernel's to say; this only checks the form.

use core::fmt;

use bootinfo::cmdline::parse_u64;

/// One parsed command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command<'a> {
    Sysctl(Sysctl<'a>),
    /// `params` is the rest of the line: `key=value` words only.
    Run { workload: &'a str, params: &'a str },
    Stats,
    Exit(u8),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sysctl<'a> {
    All,
    Get(&'a str),
    Set { name: &'a str, value: u64 },
}

/// Why a line is not a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError<'a> {
    UnknownCommand(&'a str),
    /// A command without arguments (`stats`) got some.
    UnexpectedArguments { command: &'a str, rest: &'a str },
    /// `sysctl` with more than one name, or an empty name.
    BadSysctl(&'a str),
    BadNumber { name: &'a str, value: &'a str },
    NoWorkload,
    NotKeyValue { workload: &'a str, word: &'a str },
    BadExitStatus(&'a str),
}

impl fmt::Display for ParseError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownCommand(c) => write!(f, "unknown command {c:?} (sysctl, run, stats, exit)"),
            Self::UnexpectedArguments { command, rest } => write!(f, "{command} takes no arguments (got {rest:?})"),
            Self::BadSysctl(rest) => {
                write!(f, "sysctl {rest:?}: expected `sysctl`, `sysctl NAME` or `sysctl NAME=VALUE`")
            }
            Self::BadNumber { name, value } => {
                write!(f, "sysctl {name}: {value:?} is not a number (decimal, or hex with 0x)")
            }
            Self::NoWorkload => f.write_str("run: which workload? (run NAME [key=value...])"),
            Self::NotKeyValue { workload, word } => write!(f, "run {workload}: {word:?} is not key=value"),
            Self::BadExitStatus(s) => write!(f, "exit {s:?}: the status must be a number in 0..=255"),
        }
    }
}

/// Parses one line (surrounding whitespace is ignored).
pub fn parse(line: &str) -> Result<Command<'_>, ParseError<'_>> {
    let (command, rest) = split_word(line.trim());
    match command {
        "sysctl" => sysctl(rest).map(Command::Sysctl),
        "run" => run(rest),
        "stats" if rest.is_empty() => Ok(Command::Stats),
        "stats" => Err(ParseError::UnexpectedArguments { command, rest }),
        "exit" => exit(rest),
        other => Err(ParseError::UnknownCommand(other)),
    }
}

/// The first word and the rest, trimmed.
fn split_word(s: &str) -> (&str, &str) {
    match s.split_once(|c: char| c.is_ascii_whitespace()) {
        Some((word, rest)) => (word, rest.trim()),
        None => (s, ""),
    }
}

fn is_word(s: &str) -> bool {
    !s.is_empty() && !s.contains(|c: char| c.is_ascii_whitespace())
}

fn sysctl(rest: &str) -> Result<Sysctl<'_>, ParseError<'_>> {
    if rest.is_empty() {
        return Ok(Sysctl::All);
    }
    let Some((name, value)) = rest.split_once('=') else {
        return if is_word(rest) { Ok(Sysctl::Get(rest)) } else { Err(ParseError::BadSysctl(rest)) };
    };
    let (name, value) = (name.trim(), value.trim());
    if !is_word(name) {
        return Err(ParseError::BadSysctl(rest));
    }
    match parse_u64(value) {
        Some(value) => Ok(Sysctl::Set { name, value }),
        None => Err(ParseError::BadNumber { name, value }),
    }
}

fn run(rest: &str) -> Result<Command<'_>, ParseError<'_>> {
    let (workload, params) = split_word(rest);
    if workload.is_empty() {
        return Err(ParseError::NoWorkload);
    }
    let not_key_value = |w: &&str| w.split_once('=').is_none_or(|(key, _)| key.is_empty());
    match params.split_ascii_whitespace().find(not_key_value) {
        Some(word) => Err(ParseError::NotKeyValue { workload, word }),
        None => Ok(Command::Run { workload, params }),
    }
}

fn exit(rest: &str) -> Result<Command<'_>, ParseError<'_>> {
    if rest.is_empty() {
        return Ok(Command::Exit(0));
    }
    parse_u64(rest)
        .and_then(|n| u8::try_from(n).ok())
        .map(Command::Exit)
        .ok_or(ParseError::BadExitStatus(rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn every_command_form() {
        assert_eq!(parse("sysctl"), Ok(Command::Sysctl(Sysctl::All)));
        assert_eq!(parse("sysctl sched_nr_migrate"), Ok(Command::Sysctl(Sysctl::Get("sched_nr_migrate"))));
        assert_eq!(
            parse("sysctl sched_latency_ns=6000000"),
            Ok(Command::Sysctl(Sysctl::Set { name: "sched_latency_ns", value: 6_000_000 }))
        );
        assert_eq!(parse("sysctl a = 0x10"), Ok(Command::Sysctl(Sysctl::Set { name: "a", value: 16 })));
        assert_eq!(parse("run pipe"), Ok(Command::Run { workload: "pipe", params: "" }));
        assert_eq!(
            parse("run seqread file=/big cache=arc"),
            Ok(Command::Run { workload: "seqread", params: "file=/big cache=arc" })
        );
        assert_eq!(parse("stats"), Ok(Command::Stats));
        assert_eq!(parse("exit"), Ok(Command::Exit(0)));
        assert_eq!(parse("exit 3"), Ok(Command::Exit(3)));
        assert_eq!(parse("exit 255"), Ok(Command::Exit(255)));
        assert_eq!(parse("exit 0x7f"), Ok(Command::Exit(127)));
    }

    #[test]
    fn whitespace_between_words_is_free() {
        assert_eq!(parse("  run \t pipe   ops=5  pin=same "), Ok(Command::Run { workload: "pipe", params: "ops=5  pin=same" }));
        assert_eq!(parse("\tstats  "), Ok(Command::Stats));
        assert_eq!(parse("exit\t 7"), Ok(Command::Exit(7)));
        assert_eq!(parse(" sysctl\tx "), Ok(Command::Sysctl(Sysctl::Get("x"))));
    }

    #[test]
    fn unknown_and_malformed_commands() {
        assert_eq!(parse(""), Err(ParseError::UnknownCommand("")));
        assert_eq!(parse("STATS"), Err(ParseError::UnknownCommand("STATS")));
        assert_eq!(parse("reboot now"), Err(ParseError::UnknownCommand("reboot")));
        assert_eq!(parse("stats all"), Err(ParseError::UnexpectedArguments { command: "stats", rest: "all" }));
        assert_eq!(parse("run"), Err(ParseError::NoWorkload));
        assert_eq!(parse("run pipe 1000"), Err(ParseError::NotKeyValue { workload: "pipe", word: "1000" }));
        assert_eq!(parse("run pipe =5"), Err(ParseError::NotKeyValue { workload: "pipe", word: "=5" }));
        assert_eq!(parse("sysctl a b"), Err(ParseError::BadSysctl("a b")));
        assert_eq!(parse("sysctl =5"), Err(ParseError::BadSysctl("=5")));
        assert_eq!(parse("sysctl a b=5"), Err(ParseError::BadSysctl("a b=5")));
    }

    #[test]
    fn bad_numbers() {
        for value in ["", "12x", "-1", "1.5", "0x", "99999999999999999999"] {
            let line = alloc::format!("sysctl a={value}");
            assert_eq!(parse(&line), Err(ParseError::BadNumber { name: "a", value }), "{line}");
        }
        for status in ["256", "-1", "1 2", "x", "0x100"] {
            let line = alloc::format!("exit {status}");
            assert_eq!(parse(&line), Err(ParseError::BadExitStatus(status)), "{line}");
        }
    }

    #[test]
    fn errors_explain_themselves() {
        let message = |line| parse(line).unwrap_err().to_string();
        assert_eq!(message("frob"), r#"unknown command "frob" (sysctl, run, stats, exit)"#);
        assert_eq!(message("exit 256"), r#"exit "256": the status must be a number in 0..=255"#);
        assert_eq!(message("sysctl a=x"), r#"sysctl a: "x" is not a number (decimal, or hex with 0x)"#);
        assert_eq!(message("run pipe 7"), r#"run pipe: "7" is not key=value"#);
        assert_eq!(message("run"), "run: which workload? (run NAME [key=value...])");
        assert_eq!(message("stats x"), r#"stats takes no arguments (got "x")"#);
        // Non-ASCII names survive into the message (escaped by Debug only
        // where unprintable); the JSON writer then escapes what JSON needs.
        assert_eq!(message("grüße"), r#"unknown command "grüße" (sysctl, run, stats, exit)"#);
    }
}
