//! `cachesim`: replays a block trace through ferrite's page-cache replacement policies (the
//! `pagecache` crate, the same code the kernel uses) at one or more cache sizes, and prints the
//! hit ratio of each policy: a table, or JSON with `--json`. Run it through `scripts/cachesim`.

mod trace;

use std::process::ExitCode;

use pagecache::{POLICY_NAMES, by_name};

const USAGE: &str = "usage: cachesim --trace FILE [--policy all|lru|clock|arc|lecar|qlearn[,...]] \
[--sizes PAGES[,PAGES...]] [--json]";

struct Options {
    trace: String,
    policies: Vec<String>,
    sizes: Vec<usize>,
    json: bool,
}

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut o = Options { trace: String::new(), policies: Vec::new(), sizes: vec![256, 1024, 4096], json: false };
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

/// Hit ratio of one policy at one size over the whole trace.
fn replay(requests: &[trace::Request], policy: &str, pages: usize) -> f64 {
    let mut p = by_name(policy, pages).expect("policy names were checked");
    for r in requests {
        for key in r.keys() {
            p.access(key);
        }
    }
    p.stats().hit_ratio()
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
    let results: Vec<(usize, Vec<f64>)> = o
        .sizes
        .iter()
        .map(|&size| (size, o.policies.iter().map(|p| replay(&requests, p, size)).collect()))
        .collect();
    if o.json {
        let rows: Vec<String> = results
            .iter()
            .map(|(size, ratios)| {
                let cells: Vec<String> =
                    o.policies.iter().zip(ratios).map(|(p, r)| format!("\"{p}\":{r:.4}")).collect();
                format!("{{\"cache_pages\":{size},\"hit_ratio\":{{{}}}}}", cells.join(","))
            })
            .collect();
        println!("{{\"trace\":\"{}\",\"requests\":{},\"results\":[{}]}}", o.trace, requests.len(), rows.join(","));
    } else {
        println!("{} ({} requests): hit ratio per policy and cache size (4 KiB pages)", o.trace, requests.len());
        println!("| cache pages | {} |", o.policies.join(" | "));
        println!("| ---: |{}", " ---: |".repeat(o.policies.len()));
        for (size, ratios) in &results {
            let cells: Vec<String> = ratios.iter().map(|r| format!("{r:.3}")).collect();
            println!("| {size} | {} |", cells.join(" | "));
        }
    }
    ExitCode::SUCCESS
}
