//! The control channel (`ctl=serial`): a kernel thread reads command lines
//! from COM1 and answers each with exactly one JSON line, so a host (the
//! tuner, JMH) can drive a long-lived VM.
//!
//! | command                     | answer |
//! | --------------------------- | ------ |
//! | `sysctl NAME=VALUE`         | `{"sysctl":"NAME","value":VALUE}` after setting it, or `{"error":"..."}` |
//! | `sysctl NAME`               | `{"sysctl":"NAME","value":VALUE}` |
//! | `sysctl`                    | `{"sysctl":{"NAME":VALUE,...}}` (all five tunables) |
//! | `run WORKLOAD [key=value]`  | the workload's JSON result line (see workload/mod.rs) |
//! | `stats`                     | `{"stats":{...}}`: scheduler counters summed over CPUs, live tasks, free pages, kmalloc objects in use |
//! | `exit [STATUS]`             | `{"exit":STATUS}`, then the VM ends with that status |
//!
//! Tunable names are Linux's (`sched_latency_ns`, `sched_min_granularity_ns`,
//! `sched_wakeup_granularity_ns`, `sched_migration_cost_ns`,
//! `sched_nr_migrate`); a change applies from the next scheduling decision.
//! The thread prints `{"ctl":"ready"}` when it starts. Every UART access is a
//! VM exit (~25 us on PVM), so the thread polls the line status register
//! every `ctl_poll_us` microseconds (default 1000) and sleeps in between.

use alloc::format;
use alloc::string::String;

use bootinfo::Cmdline;

use crate::workload::json::{Json, push_string};
use crate::workload::{self, Params};
use crate::{exit, heap, println, serial, task};

const DEFAULT_POLL_US: u64 = 1000;
const MAX_LINE: usize = 1024;

/// Starts the control thread on CPU 0.
pub fn start(cmdline: &Cmdline<'_>) {
    let poll_us = cmdline
        .get_u64("ctl_poll_us")
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or(DEFAULT_POLL_US)
        .max(1);
    task::kthread_spawn(serve, (poll_us * 1000) as usize, 0, 0);
}

/// The control thread's body; `poll_ns` is the UART polling interval.
fn serve(poll_ns: usize) {
    let poll_ns = poll_ns as u64;
    println!("{}", Json::new().str("ctl", "ready").finish());
    let mut line = String::new();
    loop {
        match serial::try_read_byte() {
            Some(b'\n' | b'\r') => {
                if !line.trim().is_empty() {
                    println!("{}", answer(line.trim()));
                }
                line.clear();
            }
            Some(byte) if line.len() < MAX_LINE => line.push(byte as char),
            Some(_) => {} // overlong line: the rest is dropped
            None => task::sleep_ns(poll_ns),
        }
    }
}

/// One command line -> one JSON line.
pub fn answer(line: &str) -> String {
    let (command, rest) = line.split_once(' ').unwrap_or((line, ""));
    let rest = rest.trim();
    match command {
        "sysctl" if rest.is_empty() => all_tunables(),
        "sysctl" => match rest.split_once('=') {
            Some((name, value)) => match parse_u64(value.trim()) {
                Some(value) => match task::set_tunable(name.trim(), value) {
                    Ok(()) => tunable(name.trim()),
                    Err(e) => error(&format!("{}: {e}", name.trim())),
                },
                None => error(&format!("{}: {value:?} is not a number", name.trim())),
            },
            None => tunable(rest),
        },
        "run" => {
            let (name, params) = rest.split_once(' ').unwrap_or((rest, ""));
            let words = Cmdline::new(params);
            match workload::run(name, &Params::new(words)) {
                Ok(json) => json,
                Err(e) => error(&e),
            }
        }
        "stats" => stats(),
        "exit" => {
            let status = if rest.is_empty() {
                Some(0)
            } else {
                rest.parse::<u8>().ok()
            };
            match status {
                Some(status) => {
                    println!("{}", Json::new().u64("exit", u64::from(status)).finish());
                    exit::exit(status)
                }
                None => error(&format!("exit {rest:?}: status must be 0..=255")),
            }
        }
        other => error(&format!(
            "unknown command {other:?} (sysctl, run, stats, exit)"
        )),
    }
}

fn tunable(name: &str) -> String {
    match task::get_tunable(name) {
        Some(value) => Json::new().str("sysctl", name).u64("value", value).finish(),
        None => error(&format!("unknown tunable {name:?}")),
    }
}

fn all_tunables() -> String {
    let mut inner = Json::new();
    for name in sched::Tunables::NAMES {
        inner = inner.u64(name, task::get_tunable(name).unwrap_or(0));
    }
    Json::new().raw("sysctl", &inner.finish()).finish()
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
        .finish();
    Json::new().raw("stats", &inner).finish()
}

fn error(message: &str) -> String {
    let mut out = String::from("{\"error\":");
    push_string(&mut out, message);
    out.push('}');
    out
}

fn parse_u64(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}
