//! `cachesim`: replays block traces (and fio-like jobs) through ferrite's page-cache policies
//! (the `pagecache` crate, the same code the kernel uses) and a model of the guest's read and
//! write paths (`readpath.rs`), and reports each policy's hit ratio and device requests: a
//! table, or JSON with `--json`. Run it through `scripts/cachesim`.
//!
//! Three modes:
//! - one trace at one or more cache sizes (`--trace`), read-ahead off unless `--readahead N`;
//! - `--matrix` (`matrix.rs`): fio jobs and traces x cache sizes x policies, with the guest's
//!   read-ahead and write-back, and how often the Q-learning manager is at least as good as
//!   LRU and ARC;
//! - `--bench` (`bench.rs`): accesses per second per policy and cache size on a large Zipf
//!   trace generated in memory, and the policies' metadata bytes per cached page.

mod bench;
mod matrix;
mod readpath;
#[cfg(test)]
mod reference;
mod trace;

use std::process::ExitCode;
use std::time::Instant;

use pagecache::{POLICY_NAMES, by_name};
use readpath::{PathStats, replay};

use crate::matrix::{MANAGER, Row, Workload};

const USAGE: &str = "usage: cachesim --trace FILE [--policy all|NAME[,...]] [--sizes PAGES[,...]] [--readahead PAGES]
                [--json]
       cachesim --matrix [--traces DIR] [FILE...] [--policy ...] [--sizes ...] [--readahead PAGES]
                [--tolerance PCT] [--threads N] [--json]
       cachesim --bench [--policy ...] [--sizes ...] [--accesses N] [--repeat N]
  policies: lru, clock, arc, lecar, qlearn (the Q-learning manager), qrule (Q-learning rule chooser)
  Every run models the guest's CachedDisk: reads look pages up and fill misses, writes dirty
  whole pages (no read), write-back of every dirty page (block order, merged) when they pass
  half the cache, a dirty page the policy evicts written on its own, a final sync. Device
  requests merge adjacent pages up to 32 (the block queue's 256-sector limit).
  --readahead PAGES  read-ahead windows of at most PAGES pages (and at most half the cache), as
                     CachedDisk does: a missed page is read with the uncached pages of its
                     window, and read-ahead pages enter the cache unreferenced before they are
                     read. The hit ratio is the guest's (page lookups; read-ahead fills are not
                     lookups). Default 0 (off) for --trace, 32 (the guest's) for --matrix.
  --matrix           workloads: fio randrw, bs=4096, size=64MiB, numjobs 1,2,4 x rwmixread
                     100,70,50 x uniform, zipf:0.9 (jobs interleaved round-robin, 4 x 16384
                     I/Os in all), then each trace (--traces DIR: its *.csv files; or FILEs);
                     default sizes 256,1024,4096. Prints device requests (hit ratio) per row and
                     the rows where qlearn needs at most PCT % (default 1) more requests than
                     lru and than arc. --threads: default all cores.
  --bench            replays N (default 10000000) accesses, zipf:0.9 over 4 Mi pages (seeded),
                     through each policy's access() at each size (default 1024,16384,262144,
                     1048576), --repeat times (default 3); prints M accesses per CPU second
                     (min/median/max; and per wall-clock second, median),
                     hit ratio and policy metadata bytes per cached page. Build with --release.";

#[derive(Debug)]
struct Options {
    matrix: bool,
    bench: bool,
    accesses: usize,
    repeat: usize,
    traces: Vec<String>,
    trace_dir: Option<String>,
    policies: Vec<String>,
    sizes: Vec<usize>,
    readahead: Option<u32>,
    tolerance_pct: f64,
    threads: usize,
    json: bool,
}

fn parse_args(args: &[String]) -> Result<Options, String> {
    let defaults = bench::BenchOptions::default();
    let mut o = Options {
        matrix: false,
        bench: false,
        accesses: defaults.accesses,
        repeat: defaults.repeat,
        traces: Vec::new(),
        trace_dir: None,
        policies: Vec::new(),
        sizes: vec![256, 1024, 4096],
        readahead: None,
        tolerance_pct: 1.0,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        json: false,
    };
    let mut sizes_given = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--matrix" => o.matrix = true,
            "--bench" => o.bench = true,
            "--accesses" => o.accesses = count(&value()?, "access count")?,
            "--repeat" => o.repeat = count(&value()?, "repeat count")?,
            "--trace" => o.traces.push(value()?),
            "--traces" => o.trace_dir = Some(value()?),
            "--policy" => o.policies = value()?.split(',').map(String::from).collect(),
            "--sizes" => {
                sizes_given = true;
                o.sizes = value()?
                    .split(',')
                    .map(|s| s.parse::<usize>().ok().filter(|&n| n > 0).ok_or(format!("bad cache size '{s}'")))
                    .collect::<Result<_, _>>()?
            }
            "--readahead" => {
                let v = value()?;
                o.readahead = Some(v.parse().map_err(|_| format!("bad read-ahead size '{v}'"))?)
            }
            "--tolerance" => {
                let v = value()?;
                o.tolerance_pct =
                    v.parse().ok().filter(|t: &f64| *t >= 0.0).ok_or(format!("bad tolerance '{v}' (a percentage)"))?
            }
            "--threads" => {
                let v = value()?;
                o.threads = v.parse().ok().filter(|&n| n > 0).ok_or(format!("bad thread count '{v}'"))?
            }
            "--json" => o.json = true,
            "-h" | "--help" => return Err(String::new()),
            file if o.matrix && !file.starts_with('-') => o.traces.push(file.to_string()),
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    if o.bench && !sizes_given {
        o.sizes = vec![1 << 10, 16 << 10, 256 << 10, 1 << 20];
    }
    if !o.matrix && !o.bench && o.traces.len() != 1 {
        return Err("--trace FILE is required (once), or --matrix, or --bench".into());
    }
    if o.policies.is_empty() || o.policies == ["all"] {
        o.policies = POLICY_NAMES.iter().map(|s| s.to_string()).collect();
    }
    if let Some(bad) = o.policies.iter().find(|p| !POLICY_NAMES.contains(&p.as_str())) {
        return Err(format!("unknown policy '{bad}' (one of {})", POLICY_NAMES.join(", ")));
    }
    Ok(o)
}

/// A positive count named `what`.
fn count(v: &str, what: &str) -> Result<usize, String> {
    v.parse().ok().filter(|&n| n > 0).ok_or(format!("bad {what} '{v}'"))
}

fn load_trace(path: &str) -> Result<Workload, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let requests = trace::parse(&text).map_err(|e| format!("{path}: {e}"))?;
    Ok(Workload::from_trace(path.to_string(), &requests))
}

/// The traces named on the command line, then those in `--traces DIR` (sorted).
fn trace_paths(o: &Options) -> Result<Vec<String>, String> {
    let mut paths = o.traces.clone();
    if let Some(dir) = &o.trace_dir {
        let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot list {dir}: {e}"))?;
        let mut found: Vec<String> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "csv"))
            .map(|p| p.display().to_string())
            .collect();
        found.sort();
        paths.extend(found);
    }
    Ok(paths)
}

/// `{"lru":v,...}` with `v` from each policy's stats.
fn per_policy(policies: &[String], stats: &[PathStats], v: fn(&PathStats) -> String) -> String {
    let cells: Vec<String> = policies.iter().zip(stats).map(|(p, s)| format!("\"{p}\":{}", v(s))).collect();
    format!("{{{}}}", cells.join(","))
}

fn stats_json(s: &PathStats) -> String {
    format!(
        "{{\"hit_ratio\":{:.4},\"device_requests\":{},\"read_requests\":{},\"write_requests\":{},\"pages_read\":{},\
\"pages_written\":{},\"readahead_pages\":{}}}",
        s.hit_ratio,
        s.device_requests(),
        s.read_requests,
        s.write_requests,
        s.pages_read,
        s.pages_written,
        s.readahead_pages
    )
}

fn single(o: &Options) -> Result<(), String> {
    let w = load_trace(&o.traces[0])?;
    let readahead = o.readahead.unwrap_or(0);
    let results: Vec<(usize, Vec<PathStats>)> = o
        .sizes
        .iter()
        .map(|&size| {
            let stats = o
                .policies
                .iter()
                .map(|p| by_name(p, size).expect("policy names were checked"))
                .map(|policy| replay(&w.ops, policy, readahead, w.device_pages))
                .collect();
            (size, stats)
        })
        .collect();
    let ra = readahead > 0;
    if o.json {
        let rows: Vec<String> = results
            .iter()
            .map(|(size, stats)| {
                let ratios = per_policy(&o.policies, stats, |s| format!("{:.4}", s.hit_ratio));
                let requests = per_policy(&o.policies, stats, |s| s.device_requests().to_string());
                let pages = per_policy(&o.policies, stats, |s| s.readahead_pages.to_string());
                let extra = if ra { format!(",\"readahead_pages\":{pages}") } else { String::new() };
                let detail = per_policy(&o.policies, stats, stats_json);
                format!(
                    "{{\"cache_pages\":{size},\"hit_ratio\":{ratios},\"device_requests\":{requests}{extra},\
\"detail\":{detail}}}"
                )
            })
            .collect();
        let extra = if ra { format!(",\"readahead\":{readahead}") } else { String::new() };
        println!(
            "{{\"trace\":\"{}\",\"accesses\":{}{extra},\"results\":[{}]}}",
            w.name,
            w.ops.len(),
            rows.join(",")
        );
        return Ok(());
    }
    let with = if ra { format!(", read-ahead <= {readahead} pages") } else { String::new() };
    println!("{} ({} page accesses): hit ratio per policy and cache size (4 KiB pages){with}", w.name, w.ops.len());
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
    println!("\ndevice requests (reads + writes, after a final sync)");
    println!("| cache pages | {} |", o.policies.join(" | "));
    println!("| ---: |{}", " ---: |".repeat(o.policies.len()));
    for (size, stats) in &results {
        let cells: Vec<String> = stats
            .iter()
            .map(|s| format!("{} ({} + {})", s.device_requests(), s.read_requests, s.write_requests))
            .collect();
        println!("| {size} | {} |", cells.join(" | "));
    }
    Ok(())
}

fn matrix(o: &Options) -> Result<(), String> {
    let started = Instant::now();
    let mut workloads = matrix::fio_workloads();
    for path in trace_paths(o)? {
        workloads.push(load_trace(&path)?);
    }
    let readahead = o.readahead.unwrap_or(32);
    let progress = |done: usize, total: usize| {
        if done.is_multiple_of(20) || done == total {
            eprint!("\rcachesim: {done}/{total} runs, {:.1} s", started.elapsed().as_secs_f64());
            if done == total {
                eprintln!();
            }
        }
    };
    let rows = matrix::run(&workloads, &o.sizes, &o.policies, readahead, o.threads, &progress);
    let tolerance = o.tolerance_pct / 100.0;
    let wins = matrix::wins(&rows, &o.policies, tolerance);
    if o.json {
        print_matrix_json(o, &workloads, &rows, readahead, wins);
    } else {
        print_matrix_table(o, &workloads, &rows, readahead, wins);
    }
    Ok(())
}

type Wins = Option<Vec<(&'static str, usize, usize)>>;

fn print_matrix_table(o: &Options, workloads: &[Workload], rows: &[Row], readahead: u32, wins: Wins) {
    let m = o.policies.iter().position(|p| p == MANAGER);
    let rivals: Vec<(&str, usize)> = matrix::RIVALS
        .iter()
        .filter_map(|&r| Some((r, o.policies.iter().position(|p| p == r)?)))
        .filter(|_| m.is_some())
        .collect();
    println!(
        "cachesim --matrix: device requests (hit ratio) per policy; read-ahead <= {readahead} pages, \
write-back past half the cache, final sync"
    );
    let vs: String = rivals.iter().map(|(r, _)| format!(" {MANAGER} vs {r} |")).collect();
    println!("| workload | cache pages | {} |{vs}", o.policies.join(" | "));
    println!("| --- | ---: |{}{}", " ---: |".repeat(o.policies.len()), " ---: |".repeat(rivals.len()));
    for row in rows {
        let cells: Vec<String> =
            row.stats.iter().map(|s| format!("{} ({:.3})", s.device_requests(), s.hit_ratio)).collect();
        let deltas: String = rivals
            .iter()
            .zip(std::iter::repeat(m))
            .filter_map(|((_, r), m)| {
                let (ours, theirs) = (row.stats[m?].device_requests() as f64, row.stats[*r].device_requests() as f64);
                Some(format!(" {:+.1}% |", (ours / theirs.max(1.0) - 1.0) * 100.0))
            })
            .collect();
        println!("| {} | {} | {} |{deltas}", workloads[row.workload].name, row.cache_pages, cells.join(" | "));
    }
    if let Some(wins) = wins {
        println!();
        for (rival, within, strict) in wins {
            println!(
                "{MANAGER} at least as good as {rival} (device requests at most {}% more): {within}/{} rows \
(strictly no more: {strict})",
                o.tolerance_pct,
                rows.len()
            );
        }
    }
}

fn print_matrix_json(o: &Options, workloads: &[Workload], rows: &[Row], readahead: u32, wins: Wins) {
    let policies: Vec<String> = o.policies.iter().map(|p| format!("\"{p}\"")).collect();
    let json_rows: Vec<String> = rows
        .iter()
        .map(|row| {
            let w = &workloads[row.workload];
            format!(
                "{{\"workload\":\"{}\",\"accesses\":{},\"cache_pages\":{},\"results\":{}}}",
                w.name,
                w.ops.len(),
                row.cache_pages,
                per_policy(&o.policies, &row.stats, stats_json)
            )
        })
        .collect();
    let wins = match wins {
        Some(wins) => {
            let vs: Vec<String> = wins
                .iter()
                .map(|(r, within, strict)| format!("\"{r}\":{{\"within_tolerance\":{within},\"strict\":{strict}}}"))
                .collect();
            format!(",\"wins\":{{\"policy\":\"{MANAGER}\",\"rows\":{},\"vs\":{{{}}}}}", rows.len(), vs.join(","))
        }
        None => String::new(),
    };
    println!(
        "{{\"readahead\":{readahead},\"tolerance_pct\":{},\"sizes\":{:?},\"policies\":[{}],\"rows\":[{}]{wins}}}",
        o.tolerance_pct,
        o.sizes,
        policies.join(","),
        json_rows.join(",")
    );
}

fn bench(o: &Options) -> Result<(), String> {
    let b = bench::BenchOptions { accesses: o.accesses, repeat: o.repeat, ..bench::BenchOptions::default() };
    let keys = bench::zipf_keys(&b);
    println!(
        "cachesim --bench: {} accesses, zipf:{} over {} pages (seed {}), {} runs each: M accesses per CPU \
second (and per wall-clock second, median)",
        b.accesses, b.theta, b.pages, b.seed, b.repeat
    );
    println!("| policy | cache pages | min | median | max | wall | hit ratio | metadata bytes/page |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for row in bench::run(&keys, &o.policies, &o.sizes, &b) {
        let (min, med, max) = bench::spread(&row.rates);
        println!(
            "| {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.3} | {:.1} |",
            row.policy,
            row.cache_pages,
            min / 1e6,
            med / 1e6,
            max / 1e6,
            bench::spread(&row.wall_rates).1 / 1e6,
            row.hit_ratio,
            row.bytes_per_page
        );
    }
    Ok(())
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
    let run = if o.bench {
        bench(&o)
    } else if o.matrix {
        matrix(&o)
    } else {
        single(&o)
    };
    match run {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cachesim: {e}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn readahead_is_off_unless_asked_for() {
        assert_eq!(parse_args(&args("--trace t.csv")).unwrap().readahead, None);
        assert_eq!(parse_args(&args("--trace t.csv --readahead 32")).unwrap().readahead, Some(32));
        assert!(parse_args(&args("--trace t.csv --readahead x")).unwrap_err().contains("read-ahead"));
        assert!(parse_args(&args("--trace t.csv --readahead")).unwrap_err().contains("needs a value"));
    }

    #[test]
    fn matrix_takes_trace_files_and_a_directory() {
        let o = parse_args(&args("--matrix a.csv --traces dir b.csv --tolerance 0.5")).unwrap();
        assert!(o.matrix);
        assert_eq!(o.traces, ["a.csv", "b.csv"]);
        assert_eq!(o.trace_dir.as_deref(), Some("dir"));
        assert_eq!(o.tolerance_pct, 0.5);
        assert!(parse_args(&args("a.csv")).is_err(), "a bare file only with --matrix");
        assert!(parse_args(&args("--trace a --trace b")).is_err());
    }

    #[test]
    fn replay_without_readahead_is_one_access_per_page() {
        // Pages 0..4 read, then written: 4 misses, then 4 hits; the writes go out in one
        // request at the final sync.
        let w = Workload::from_trace("t".into(), &trace::parse("1,R,0,16384\n2,W,0,16384\n").unwrap());
        let s = replay(&w.ops, by_name("lru", 8).unwrap(), 0, w.device_pages);
        assert_eq!((s.hit_ratio, s.readahead_pages), (0.5, 0));
        assert_eq!((s.read_requests, s.write_requests, s.pages_written), (4, 1, 4));
        // With read-ahead, page 0 misses and brings 1..4 (the end of the trace's device) with it.
        let s = replay(&w.ops, by_name("lru", 8).unwrap(), 4, w.device_pages);
        assert_eq!((s.hit_ratio, s.readahead_pages, s.read_requests), (7.0 / 8.0, 3, 1));
    }
}
