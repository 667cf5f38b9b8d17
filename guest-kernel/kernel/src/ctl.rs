//! The control channel: a kernel thread reads command lines from the host
//! and answers each with exactly one JSON line, so a host (the tuner, JMH)
//! can drive a long-lived VM.
//!
//! | command                     | answer |
//! | --------------------------- | ------ |
//! | `sysctl NAME=VALUE`         | `{"sysctl":"NAME","value":VALUE}` after setting it, or `{"error":"..."}` |
//! | `sysctl NAME`               | `{"sysctl":"NAME","value":VALUE}` |
//! | `sysctl`                    | `{"sysctl":{"NAME":VALUE,...}}` (all five tunables) |
//! | `run WORKLOAD [key=value]`  | the workload's JSON result line (see workload/mod.rs) |
//! | `stats`                     | `{"stats":{...}}`: scheduler counters summed over CPUs, live tasks, free pages, kmalloc objects in use, interrupts taken |
//! | `exit [STATUS]`             | `{"exit":STATUS}`, then the VM ends with that status |
//!
//! Anything else -- an unknown command, a malformed or overlong line, a
//! bad workload parameter or one the workload does not take -- is answered
//! with `{"error":"..."}`, and the channel goes on serving. The thread sends
//! `{"ctl":"ready"}` when it starts. Parsing, line assembly, the JSON writer
//! and the parameter checks are the host-tested `ctlproto` crate; this file
//! moves bytes and executes commands.
//!
//! Tunable names are Linux's (`sched_latency_ns`, `sched_min_granularity_ns`,
//! `sched_wakeup_granularity_ns`, `sched_migration_cost_ns`,
//! `sched_nr_migrate`); a change applies from the next scheduling decision.
//!
//! # Transports
//!
//! - `ctl=console`: the first virtio-console device (virtio/console.rs).
//!   Looking for input is a read of the receive queue's used ring, without
//!   a VM exit, so the thread polls every `ctl_poll_us` (default 50) in
//!   polling mode; in interrupt mode it sleeps until the device interrupts.
//!   Answers end in `\n`.
//! - `ctl=serial`: COM1, for debugging. Every UART access is a VM exit
//!   (~25 us on PVM), so the thread polls the line status register every
//!   `ctl_poll_us` (default 1000). Answers end in `\r\n`, as all COM1 output.
//!
//! The control thread is pinned to CPU 0, where virtio interrupts are routed.

use alloc::format;
use alloc::string::{String, ToString};

use bootinfo::Cmdline;
use ctlproto::json::{self, Json};
use ctlproto::{Command, LineReader, Params, Sysctl};

use crate::virtio::console::ConsoleDevice;
use crate::virtio::{self, Claimed};
use crate::workload::{self, SchedJson};
use crate::{exit, heap, platform, println, serial, task};

const SERIAL_POLL_US: u64 = 1000;
const CONSOLE_POLL_US: u64 = 50;
const MAX_POLL_US: u64 = 1_000_000;
const NO_CONSOLE: &str = "ctl=console: no virtio-console device (panvm: --console ...; \
    QEMU: -device virtio-serial-device -device virtconsole,chardev=...)";

/// A byte stream to and from the host, as the control thread uses it.
trait Channel: Send + 'static {
    /// Input that has arrived, at most `buf.len()` bytes; 0 if none. Never waits.
    fn receive(&mut self, buf: &mut [u8]) -> usize;
    /// Waits until input may have arrived.
    fn wait(&mut self);
    /// Sends one answer, with the line end.
    fn send_line(&mut self, line: &str);
    /// Returns once everything sent has left the VM.
    fn flush(&mut self);
}

/// COM1, polled.
struct SerialChannel {
    poll_ns: u64,
}

impl Channel for SerialChannel {
    fn receive(&mut self, buf: &mut [u8]) -> usize {
        let mut n = 0;
        while n < buf.len()
            && let Some(byte) = serial::try_read_byte()
        {
            buf[n] = byte;
            n += 1;
        }
        n
    }

    fn wait(&mut self) {
        crate::wait::sleep_ns(self.poll_ns);
    }

    fn send_line(&mut self, line: &str) {
        println!("{line}");
    }

    /// Every byte has left when `send_line` returns.
    fn flush(&mut self) {}
}

/// A virtio-console device. A device that fails (it broke the ring
/// protocol, or needs a reset) ends the VM: without its channel the host
/// could only wait for answers that never come.
struct ConsoleChannel {
    dev: Claimed<ConsoleDevice>,
    poll_ns: u64,
}

impl ConsoleChannel {
    fn lost(why: String) -> ! {
        panic!("ctl=console: control channel lost: {why}")
    }
}

impl Channel for ConsoleChannel {
    fn receive(&mut self, buf: &mut [u8]) -> usize {
        self.dev.read(buf).unwrap_or_else(|e| Self::lost(e))
    }

    fn wait(&mut self) {
        self.dev.wait_for_input(self.poll_ns);
    }

    fn send_line(&mut self, line: &str) {
        self.dev
            .write(format!("{line}\n").as_bytes())
            .unwrap_or_else(|e| Self::lost(e));
    }

    fn flush(&mut self) {
        self.dev.flush().unwrap_or_else(|e| Self::lost(e));
    }
}

/// Starts the control thread if the command line asks for one (`ctl=`);
/// returns whether it did.
pub fn start(cmdline: &Cmdline<'_>) -> bool {
    match cmdline.get("ctl") {
        None => return false,
        Some("serial") => spawn(SerialChannel {
            poll_ns: poll_ns(cmdline, SERIAL_POLL_US),
        }),
        Some("console") => {
            let dev = virtio::claim::<ConsoleDevice>(0).unwrap_or_else(|_| panic!("{NO_CONSOLE}"));
            spawn(ConsoleChannel {
                dev,
                poll_ns: poll_ns(cmdline, CONSOLE_POLL_US),
            });
        }
        Some(other) => panic!("unknown ctl={other} (console, serial)"),
    }
    true
}

/// `ctl_poll_us=N` (or `default_us`), in nanoseconds.
fn poll_ns(cmdline: &Cmdline<'_>, default_us: u64) -> u64 {
    let poll_us = cmdline
        .get_u64("ctl_poll_us")
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or(default_us);
    assert!(
        (1..=MAX_POLL_US).contains(&poll_us),
        "ctl_poll_us={poll_us}: out of range 1..={MAX_POLL_US}"
    );
    poll_us * 1000
}

fn spawn(channel: impl Channel) {
    task::spawn_pinned("ctl", 0, 0, move || serve(channel));
}

/// The control thread: lines in, one answer out per line.
fn serve(mut channel: impl Channel) {
    channel.send_line(ctlproto::READY);
    let mut lines = LineReader::new();
    let mut input = [0u8; 256];
    loop {
        let n = channel.receive(&mut input);
        if n == 0 {
            channel.wait();
        }
        for &byte in &input[..n] {
            match lines.push(byte) {
                None => {}
                Some(Ok(line)) => execute(&line, &mut channel),
                Some(Err(e)) => channel.send_line(&json::error(&e.to_string())),
            }
        }
    }
}

/// Runs one command line and sends its answer.
fn execute(line: &str, channel: &mut impl Channel) {
    let answer = match ctlproto::parse(line) {
        Ok(Command::Sysctl(op)) => sysctl(op),
        Ok(Command::Run { workload, params }) => {
            workload::run(&Params::new(workload, Cmdline::new(params)))
                .unwrap_or_else(|e| json::error(&e))
        }
        Ok(Command::Stats) => stats(),
        Ok(Command::Exit(status)) => shut_down(status, channel),
        Err(e) => json::error(&e.to_string()),
    };
    channel.send_line(&answer);
}

/// `exit`: writes back what a kept page cache holds, answers, and ends the
/// VM once the answer has left it.
fn shut_down(status: u8, channel: &mut impl Channel) -> ! {
    workload::drop_kept_cache();
    channel.send_line(&Json::new().u64("exit", u64::from(status)).finish());
    channel.flush();
    exit::exit(status)
}

fn sysctl(op: Sysctl<'_>) -> String {
    match op {
        Sysctl::All => all_tunables(),
        Sysctl::Get(name) => tunable(name),
        Sysctl::Set { name, value } => match task::set_tunable(name, value) {
            Ok(()) => tunable(name),
            Err(e) => json::error(&format!("sysctl {name}={value}: {e}")),
        },
    }
}

fn tunable(name: &str) -> String {
    match task::get_tunable(name) {
        Some(value) => Json::new().str("sysctl", name).u64("value", value).finish(),
        None => json::error(&format!("unknown tunable {name:?}")),
    }
}

fn all_tunables() -> String {
    let mut inner = Json::new();
    for name in sched::Tunables::NAMES {
        inner = inner.u64(name, task::get_tunable(name).unwrap_or(0));
    }
    Json::new().raw("sysctl", &inner.finish()).finish()
}

/// Interrupt counts since boot (all zero in polling mode, where none are delivered).
fn interrupts() -> String {
    let i = platform::interrupt_stats();
    Json::new()
        .u64("ticks", i.ticks)
        .u64("ipis", i.ipis)
        .u64("spurious", i.spurious)
        .u64("apic_errors", i.apic_errors)
        .u64("last_apic_error", u64::from(i.last_apic_error))
        .u64("unexpected", i.unexpected)
        .u64(
            "last_unexpected_vector",
            u64::from(i.last_unexpected_vector),
        )
        .u64("last_unexpected_rip", i.last_unexpected_rip)
        .finish()
}

fn stats() -> String {
    let sched = workload::SchedTotals::now();
    let buddy = heap::buddy_stats();
    let kmalloc = heap::kmalloc_stats();
    let objects: u64 = kmalloc.classes.iter().map(|c| c.in_use).sum();
    let inner = sched
        .add_to(Json::new())
        .u64("tasks", task::nr_tasks() as u64)
        .u64("free_pages", buddy.free_pages)
        .u64("total_pages", buddy.total_pages)
        .u64("kmalloc_objects", objects)
        .u64("kmalloc_large", kmalloc.large.live)
        .u64("kmalloc_failures", kmalloc.failures)
        .raw("interrupts", &interrupts())
        .finish();
    Json::new().raw("stats", &inner).finish()
}
