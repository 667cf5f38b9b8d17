//! `panvm-client`: hands a `panvm` command line to a warm worker of `panvm serve`, so that it
//! starts without a JVM's start-up (vmm/SERVE.md).
//!
//! ```text
//! panvm-client --dir DIR [--fallback PROGRAM] -- ARGS...
//! ```
//!
//! It connects to the first worker socket in DIR that accepts, sends its working directory and
//! ARGS (the protocol of the Java side's `RunRequest`) with its standard input, output and error
//! beside them (SCM_RIGHTS), and exits with the status the worker reports. The worker then reads
//! and writes this process's very terminal, pipes or files. If this process ends (Ctrl-C), the
//! worker sees the connection close and stops the VM. With no worker ready, or one that refuses
//! the run, it executes PROGRAM ARGS... instead (with `PANVM_NO_SERVICE=1` in its environment),
//! or without `--fallback` fails with status 125.

mod fdpass;

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, exit};

/// panvm run's status for "the VM could not be built".
const EXIT_VMM_ERROR: i32 = 125;
const MAGIC: &str = "PANVM-RUN 1";

struct Options {
    dir: PathBuf,
    fallback: Option<OsString>,
    args: Vec<OsString>,
}

fn usage(problem: &str) -> ! {
    eprintln!("panvm-client: {problem}\nusage: panvm-client --dir DIR [--fallback PROGRAM] -- ARGS...");
    exit(2)
}

fn parse(mut argv: impl Iterator<Item = OsString>) -> Options {
    let (mut dir, mut fallback) = (None, None);
    while let Some(a) = argv.next() {
        match a.to_str() {
            Some("--dir") => dir = Some(PathBuf::from(argv.next().unwrap_or_else(|| usage("--dir needs a value")))),
            Some("--fallback") => fallback = Some(argv.next().unwrap_or_else(|| usage("--fallback needs a value"))),
            Some("--") => break,
            _ => usage(&format!("unknown option {a:?}")),
        }
    }
    let dir = dir.unwrap_or_else(|| usage("--dir is required"));
    Options { dir, fallback, args: argv.collect() }
}

/// The request's bytes: NUL-terminated fields (magic, directory, count, arguments).
fn request(cwd: &str, args: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    let count = args.len().to_string();
    for field in [MAGIC, cwd, count.as_str()].into_iter().chain(args.iter().map(String::as_str)) {
        out.extend_from_slice(field.as_bytes());
        out.push(0);
    }
    out
}

/// The first worker socket in `dir` that accepts a connection.
fn connect(dir: &Path) -> Option<UnixStream> {
    let mut sockets: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with("worker-") && name.ends_with(".sock")
        })
        .collect();
    sockets.sort();
    sockets.iter().find_map(|s| UnixStream::connect(s).ok())
}

/// What the worker answered: its run's status, or why it refused.
#[derive(Debug, PartialEq)]
enum Answer {
    Exit(i32),
    Refused(String),
    Vanished,
}

fn answer(line: Option<&str>) -> Answer {
    match line.map(str::trim_end) {
        Some(l) if l.starts_with("exit ") => l[5..].parse().map_or(Answer::Vanished, Answer::Exit),
        Some(l) if l.starts_with("error ") => Answer::Refused(l[6..].to_string()),
        _ => Answer::Vanished,
    }
}

fn fall_back(o: &Options, why: &str) -> ! {
    match &o.fallback {
        Some(program) => {
            let e = Command::new(program).args(&o.args).env("PANVM_NO_SERVICE", "1").exec();
            eprintln!("panvm-client: cannot run {program:?}: {e}");
            exit(EXIT_VMM_ERROR)
        }
        None => {
            eprintln!("panvm: {why}");
            exit(EXIT_VMM_ERROR)
        }
    }
}

fn main() {
    let o = parse(std::env::args_os().skip(1));
    let Some(mut stream) = connect(&o.dir) else {
        let dir = o.dir.display();
        fall_back(&o, &format!("no panvm service is ready in {dir} (start one with 'scripts/panvm serve')"))
    };
    let cwd = std::env::current_dir().ok().and_then(|d| d.into_os_string().into_string().ok());
    let args: Option<Vec<String>> = o.args.iter().map(|a| a.clone().into_string().ok()).collect();
    let (Some(cwd), Some(args)) = (cwd, args) else {
        fall_back(&o, "the service takes UTF-8 arguments and directories only")
    };
    let bytes = request(&cwd, &args);
    let sent = match fdpass::send_with_stdio(&stream, &bytes) {
        Ok(n) => n,
        Err(e) => fall_back(&o, &format!("cannot hand the run to the service: {e}")),
    };
    if let Err(e) = stream.write_all(&bytes[sent..]) {
        fall_back(&o, &format!("cannot hand the run to the service: {e}"));
    }
    let mut line = String::new();
    let got = BufReader::new(&stream).read_line(&mut line).ok().filter(|&n| n > 0).map(|_| line.as_str());
    match answer(got) {
        Answer::Exit(status) => exit(status),
        Answer::Refused(why) => fall_back(&o, &format!("the service refused the run: {why}")),
        Answer::Vanished => {
            eprintln!("panvm: the service's worker ended without reporting a status");
            exit(EXIT_VMM_ERROR)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_fields_are_nul_terminated_with_a_count() {
        let r = request("/home/u", &["run".into(), "".into(), "--cmdline".into(), "a b".into()]);
        assert_eq!(r, b"PANVM-RUN 1\0/home/u\x004\0run\0\0--cmdline\0a b\0");
    }

    #[test]
    fn answers() {
        assert_eq!(answer(Some("exit 0\n")), Answer::Exit(0));
        assert_eq!(answer(Some("exit 125")), Answer::Exit(125));
        assert_eq!(answer(Some("error the client runs as another user\n")),
                   Answer::Refused("the client runs as another user".into()));
        assert_eq!(answer(Some("exit lots")), Answer::Vanished);
        assert_eq!(answer(None), Answer::Vanished);
    }

    #[test]
    fn options() {
        let o = parse(["--dir", "/d", "--fallback", "/bin/x", "--", "run", "--help"].map(OsString::from).into_iter());
        assert_eq!(o.dir, PathBuf::from("/d"));
        assert_eq!(o.fallback, Some(OsString::from("/bin/x")));
        assert_eq!(o.args, ["run", "--help"].map(OsString::from));
    }

    #[test]
    fn stdio_travels_beside_the_bytes() {
        let (a, b) = UnixStream::pair().unwrap();
        assert_eq!(fdpass::send_with_stdio(&a, b"hello").unwrap(), 5);
        let (bytes, fds) = fdpass::receive_fds(&b).unwrap();
        assert_eq!(&bytes, b"hello");
        assert_eq!(fds.len(), 3);
    }
}
