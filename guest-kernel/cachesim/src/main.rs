//! `cachesim`: replays a block trace through ferrite's page-cache replacement policies (the
//! `pagecache` crate, the same code the kernel uses) at one or more cache sizes, and prints the
//! hit ratio of each policy: a table, or JSON with `--json`. Run it through `scripts/cachesim`.
//!
//! With `--readahead N` the trace goes through a model of the guest's read path instead
//! (`readpath.rs`: `block::Readahead` with windows of at most N pages, as `CachedDisk` uses it),
//! and the pages each policy read ahead are reported too.

mod readpath;
mod trace;

use std::process::ExitCode;

use pagecache::{POLICY_NAMES, by_name};
use block::Readahead;
use readpath::{ReadPath, ReadStats};

const USAGE: &str = "usage: cachesim --trace FILE [--policy all|lru|clock|arc|lecar|qlearn[,...]] \
[--sizes PAGES[,PAGES...]] [--readahead PAGES] [--json]
  --readahead PAGES  replay through the guest's read path with read-ahead windows of at most
                     PAGES pages (and at most half the cache), as ferrite's CachedDisk does:
                     a missed page is read with the uncached pages of its window, and
                     read-ahead pages enter the cache unreferenced (a policy miss each) before
                     they are read.
                     Writes are looked up and filled, without read-ahead. The hit ratio is then
                     the guest's (page lookups; read-ahead fills are not lookups), and the pages
                     read ahead per policy are reported (readahead_pages).
                     0 (default): off, every page of a request is one access to the policy.";

#[derive(Debug)]
struct Options {
    trace: String,
    policies: Vec<String>,
    sizes: Vec<usize>,
    readahead: u32,
    json: bool,
}

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut o =
        Options { trace: String::new(), policies: Vec::new(), sizes: vec![256, 1024, 4096], readahead: 0, json: false };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--trace" => o.trace = value()?,
            "--policy" => o.policies = value()?.split(',').map(String::from).collect(),
            "--sizes" => {
                o.sizes = value()?
                    .split(',')
                    .map(|s| s.parse::<usize>().ok().filter(|&n| n > 0).ok_or(format!("bad cache size '{s}'")))
                    .collect::<Result<_, _>>()?
            }
            "--readahead" => {
                let v = value()?;
                o.readahead = v.parse().map_err(|_| format!("bad read-ahead size '{v}'"))?
            }
            "--json" => o.json = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    if o.trace.is_empty() {
        return Err("--trace is required".into());
    }
    if o.policies.is_empty() || o.policies == ["all"] {
        o.policies = POLICY_NAMES.iter().map(|s| s.to_string()).collect();
    }
    if let Some(bad) = o.policies.iter().find(|p| !POLICY_NAMES.contains(&p.as_str())) {
        return Err(format!("unknown policy '{bad}' (one of {})", POLICY_NAMES.join(", ")));
    }
    Ok(o)
}

/// One policy at one size over the whole trace, with read-ahead of at most `readahead` pages.
/// Without read-ahead this is one policy access per page, the hit ratio the policy's own.
fn replay(requests: &[trace::Request], policy: &str, pages: usize, readahead: u32) -> ReadStats {
    let policy = by_name(policy, pages).expect("policy names were checked");
    // The device: up to the last page the trace touches (read-ahead stops there).
    let device_pages = requests.iter().map(|r| r.first_page + r.pages).max().unwrap_or(0);
    let mut path = ReadPath::new(policy, Readahead::for_cache(readahead, pages), device_pages);
    for r in requests {
        for key in r.keys() {
            if r.write { path.write(key.block) } else { path.read(key.block) }
        }
    }
    path.stats()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let o = match parse_args(&args) {
        Ok(o) => o,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("cachesim: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let text = match std::fs::read_to_string(&o.trace) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cachesim: cannot read {}: {e}", o.trace);
            return ExitCode::from(1);
        }
    };
    let requests = match trace::parse(&text) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cachesim: {}: {e}", o.trace);
            return ExitCode::from(1);
        }
    };
    let results: Vec<(usize, Vec<ReadStats>)> = o
        .sizes
        .iter()
        .map(|&size| (size, o.policies.iter().map(|p| replay(&requests, p, size, o.readahead)).collect()))
        .collect();
    let ra = o.readahead > 0;
    if o.json {
        // {"lru":v,...} with v from each policy's stats.
        let per_policy = |stats: &[ReadStats], v: fn(&ReadStats) -> String| -> String {
            let cells: Vec<String> = o.policies.iter().zip(stats).map(|(p, s)| format!("\"{p}\":{}", v(s))).collect();
            format!("{{{}}}", cells.join(","))
        };
        let rows: Vec<String> = results
            .iter()
            .map(|(size, stats)| {
                let ratios = per_policy(stats, |s| format!("{:.4}", s.hit_ratio));
                let pages = per_policy(stats, |s| s.readahead_pages.to_string());
                let extra = if ra { format!(",\"readahead_pages\":{pages}") } else { String::new() };
                format!("{{\"cache_pages\":{size},\"hit_ratio\":{ratios}{extra}}}")
            })
            .collect();
        let extra = if ra { format!(",\"readahead\":{}", o.readahead) } else { String::new() };
        println!(
            "{{\"trace\":\"{}\",\"requests\":{}{extra},\"results\":[{}]}}",
            o.trace,
            requests.len(),
            rows.join(",")
        );
    } else {
        let with = if ra { format!(", read-ahead <= {} pages", o.readahead) } else { String::new() };
        println!("{} ({} requests): hit ratio per policy and cache size (4 KiB pages){with}", o.trace, requests.len());
        // readahead_pages: one count per policy, in the policies' order.
        let (head, rule) = if ra { (" readahead_pages |", " ---: |") } else { ("", "") };
        println!("| cache pages | {} |{head}", o.policies.join(" | "));
        println!("| ---: |{}{rule}", " ---: |".repeat(o.policies.len()));
        for (size, stats) in &results {
            let cells: Vec<String> = stats.iter().map(|s| format!("{:.3}", s.hit_ratio)).collect();
            let extra = if ra {
                let n: Vec<String> = stats.iter().map(|s| s.readahead_pages.to_string()).collect();
                format!(" {} |", n.join(" / "))
            } else {
                String::new()
            };
            println!("| {size} | {} |{extra}", cells.join(" | "));
        }
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn readahead_is_off_unless_asked_for() {
        assert_eq!(parse_args(&args("--trace t.csv")).unwrap().readahead, 0);
        assert_eq!(parse_args(&args("--trace t.csv --readahead 32")).unwrap().readahead, 32);
        assert!(parse_args(&args("--trace t.csv --readahead x")).unwrap_err().contains("read-ahead"));
        assert!(parse_args(&args("--trace t.csv --readahead")).unwrap_err().contains("needs a value"));
    }

    #[test]
    fn replay_without_readahead_is_one_access_per_page() {
        // Pages 0..4 twice in one request each: 4 misses, then 4 hits.
        let requests = trace::parse("1,R,0,16384\n2,W,0,16384\n").unwrap();
        assert_eq!(replay(&requests, "lru", 8, 0), ReadStats { hit_ratio: 0.5, readahead_pages: 0 });
        // With read-ahead, page 0 misses and brings 1..4 (the end of the trace's device) with it.
        assert_eq!(replay(&requests, "lru", 8, 4), ReadStats { hit_ratio: 7.0 / 8.0, readahead_pages: 3 });
    }
}
