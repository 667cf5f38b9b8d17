//! `workload=rng [bytes=N] [dev=N]`: reads N bytes (default 64, at most 1 MiB) from the
//! virtio-rng device; prints the count, a hex sample (the first 32 bytes)
//! and two crude sanity figures (distinct byte values, share of one bits).

use alloc::string::String;
use alloc::vec;

use virtio_core::hex::to_hex;

use super::{Params, begin, dev_index, header};
use crate::platform;
use crate::virtio::{self, rng::RngDevice};

pub fn run(p: &Params<'_>) -> Result<String, String> {
    let bytes = p.u64("bytes", 64, 1..=1 << 20)? as usize;
    let dev = dev_index(p)?;
    begin(p)?;
    let mut dev = virtio::claim::<RngDevice>(dev)?;
    let mut out = vec![0u8; bytes];
    let requests = dev.requests;
    let exits = dev.transport().exits();
    let start = platform::now_ns();
    dev.read(&mut out)?;
    let elapsed = platform::now_ns() - start;
    let mut seen = [false; 256];
    for &b in &out {
        seen[usize::from(b)] = true;
    }
    let ones: u64 = out.iter().map(|b| u64::from(b.count_ones())).sum();
    let json = header("rng", dev.requests - requests, elapsed)
        .u64("bytes", bytes as u64)
        .str("sample", &to_hex(&out[..bytes.min(32)]))
        .u64(
            "distinct_values",
            seen.iter().filter(|&&s| s).count() as u64,
        )
        .u64("ones_permille", ones * 1000 / (bytes as u64 * 8))
        .u64("exits", dev.transport().exits() - exits);
    Ok(json.finish())
}
