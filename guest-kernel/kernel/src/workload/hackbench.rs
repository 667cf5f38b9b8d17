//! `workload=hackbench`: `groups` groups of 10 senders and 10 receivers, as
//! `perf bench sched messaging` with pipes: every sender writes `loops`
//! 100-byte messages to each receiver of its group; each receiver reads its
//! 10 * `loops` messages from its own channel. One op = one message. Threads
//! are spread round-robin over the CPUs; timing starts when all exist and
//! ends when the last receiver is done.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::chan::Channel;
use super::{Params, SchedJson, SchedTotals, begin, check_memory, header};
use crate::task;
use crate::wait::{Completion, Gate};
use crate::{kstack, percpu, platform};

const SENDERS: usize = 10;
const RECEIVERS: usize = 10;
const MESSAGE: usize = 100;

pub fn run(p: &Params<'_>) -> Result<String, String> {
    let groups = p.u64("groups", 10, 1..=1000)? as usize;
    let loops = p.u64("loops", 100, 1..=1_000_000)? as usize;
    let pipe_size = p.u64("pipe_size", 65536, 1..=1 << 20)? as usize;
    let threads = groups * (SENDERS + RECEIVERS);
    // Stack slots (one per thread) are bounded; leave room for the kernel's own threads.
    let room = kstack::MAX_THREADS - 256;
    if threads > room {
        return Err(format!(
            "groups={groups} needs {threads} threads; at most {room} fit beside the kernel's own"
        ));
    }
    begin(p)?;
    let per_group =
        (SENDERS + RECEIVERS) as u64 * task::STACK_SIZE + RECEIVERS as u64 * pipe_size as u64;
    check_memory("hackbench", groups as u64 * per_group)?;
    let ncpus = percpu::ncpus();
    let gate = Arc::new(Gate::new());
    let done = Arc::new(Completion::new());
    let mut next_cpu = 0;
    let mut place = || {
        next_cpu = (next_cpu + 1) % ncpus;
        next_cpu
    };
    for _ in 0..groups {
        let chans: Arc<Vec<Channel>> =
            Arc::new((0..RECEIVERS).map(|_| Channel::new(pipe_size)).collect());
        for r in 0..RECEIVERS {
            let (chans, gate, done) = (chans.clone(), gate.clone(), done.clone());
            task::spawn("hb-recv", 0, place(), move || {
                gate.wait();
                let mut msg = [0u8; MESSAGE];
                for _ in 0..SENDERS * loops {
                    chans[r].read_exact(&mut msg);
                }
                done.complete();
            });
        }
        for s in 0..SENDERS {
            let (chans, gate, done) = (chans.clone(), gate.clone(), done.clone());
            task::spawn("hb-send", 0, place(), move || {
                gate.wait();
                let msg = [s as u8; MESSAGE];
                for _ in 0..loops {
                    for chan in chans.iter() {
                        chan.write(&msg);
                    }
                }
                done.complete();
            });
        }
    }
    let threads = groups * (SENDERS + RECEIVERS);
    let messages = (groups * SENDERS * RECEIVERS * loops) as u64;
    let before = SchedTotals::now();
    let start = platform::now_ns();
    gate.open();
    done.wait_for(threads);
    let elapsed = platform::now_ns() - start;
    let stats = SchedTotals::now().since(before);
    let json = header("hackbench", messages, elapsed)
        .u64("groups", groups as u64)
        .u64("loops", loops as u64)
        .u64("threads", threads as u64)
        .u64("message_bytes", MESSAGE as u64)
        .u64("pipe_size", pipe_size as u64)
        .f64("total_ms", elapsed as f64 / 1e6);
    Ok(stats.add_to(json).finish())
}
