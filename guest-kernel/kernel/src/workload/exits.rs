//! Exit round trips: one op is one VM exit that the VMM handles and returns
//! from, so `ns_per_op` is the cost of an exit (~25 us on a PVM host).
//!
//! - `pio ops=N`: N one-byte `out`s to port 0x80, the legacy POST-code
//!   port: harmless to write, handled (ignored) by every VMM.
//! - `mmio ops=N`: N 32-bit reads of MagicValue (offset 0) of the first
//!   virtio-mmio transport found at boot; an error without one. The read
//!   has no side effect, so the device may be in use meanwhile (it may be
//!   the control channel's own console).
//!
//! `ops` is 10000 by default, at most 10^7. The exits run in bursts of
//! `BURST` with a preemption point between them.

use alloc::format;
use alloc::string::String;

use virtio_core::mmio::{self, reg};

use super::{Params, begin, header};
use crate::virtio::{self, Transport};
use crate::{platform, port, task};

const DEFAULT_OPS: u64 = 10_000;
const MAX_OPS: u64 = 10_000_000;
const BURST: u64 = 1000;

pub fn pio(p: &Params<'_>) -> Result<String, String> {
    let ops = p.u64("ops", DEFAULT_OPS, 1..=MAX_OPS)?;
    begin(p)?;
    let elapsed = timed(ops, || port::post_code(0));
    Ok(header("pio", ops, elapsed).str("port", "0x80").finish())
}

pub fn mmio(p: &Params<'_>) -> Result<String, String> {
    let ops = p.u64("ops", DEFAULT_OPS, 1..=MAX_OPS)?;
    begin(p)?;
    let window = virtio::first_transport().ok_or("no virtio-mmio transport was found at boot")?;
    let transport =
        Transport::probe(window).map_err(|e| format!("transport at {:#x}: {e}", window.base))?;
    let mut wrong = 0u64;
    let elapsed = timed(ops, || {
        if transport.read(reg::MAGIC_VALUE) != mmio::MAGIC {
            wrong += 1;
        }
    });
    if wrong > 0 {
        return Err(format!(
            "{wrong} of {ops} reads of MagicValue at {:#x} were not \"virt\"",
            window.base
        ));
    }
    let json = header("mmio", ops, elapsed)
        .str("device", &format!("{:#x}", window.base))
        .str("register", "MagicValue");
    Ok(json.finish())
}

/// Runs `exit` `ops` times, in bursts with a preemption point between
/// them; the elapsed time.
fn timed(ops: u64, mut exit: impl FnMut()) -> u64 {
    let start = platform::now_ns();
    let mut done = 0;
    while done < ops {
        let burst_end = (done + BURST).min(ops);
        for _ in done..burst_end {
            exit();
        }
        done = burst_end;
        task::cond_resched();
    }
    platform::now_ns() - start
}
