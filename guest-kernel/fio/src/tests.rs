use std::vec::Vec;

use super::*;

fn spec(rw: Rw, dist: Dist) -> JobSpec {
    JobSpec { rw, rwmixread: 70, dist, bs: 8192, size: 1 << 20, jobs: 4, seed: 7 }
}

#[test]
fn parses_fio_names_and_refuses_others() {
    for name in Rw::NAMES {
        assert_eq!(Rw::parse(name).unwrap().name(), name);
    }
    assert_eq!(Rw::parse("rw"), None);
    assert_eq!(Dist::parse("zipf:0.9"), Ok(Dist::Zipf(0.9)));
    assert_eq!(Dist::parse("seq"), Ok(Dist::Seq));
    assert_eq!(Dist::parse("uniform").unwrap().name(), "uniform");
    for bad in ["zipf", "zipf:", "zipf:0", "zipf:-1", "zipf:11", "zipf:x", "pareto:0.5"] {
        assert!(Dist::parse(bad).is_err(), "{bad} accepted");
    }
}

#[test]
fn validate_names_the_bad_field() {
    let ok = spec(Rw::RandRw, Dist::Uniform);
    assert_eq!(ok.validate(), Ok(()));
    assert_eq!(ok.units(), 128);
    let err = |f: fn(&mut JobSpec)| {
        let mut s = ok;
        f(&mut s);
        s.validate().unwrap_err()
    };
    assert!(err(|s| s.bs = 1000).contains("bs"));
    assert!(err(|s| s.bs = 2 << 20).contains("bs"));
    assert!(err(|s| s.size = 4096).contains("size"));
    assert!(err(|s| s.jobs = 0).contains("jobs"));
    assert!(err(|s| s.rwmixread = 101).contains("rwmixread"));
}

#[test]
fn sequential_jobs_are_separate_streams_that_wrap() {
    let s = spec(Rw::Read, Dist::Uniform);
    let starts: Vec<u64> = (0..4).map(|i| Job::new(&s, i).next_io().offset / s.bs).collect();
    assert_eq!(starts, [0, 32, 64, 96]);
    let mut last = Job::new(&s, 3);
    let units: Vec<u64> = (0..34).map(|_| last.next_io().offset / s.bs).collect();
    assert_eq!(&units[..3], &[96, 97, 98]);
    assert_eq!(&units[31..], &[127, 0, 1], "wraps at the end of the region");
    // dist=seq makes a random rw sequential too; writes stay writes.
    let mut w = Job::new(&spec(Rw::RandWrite, Dist::Seq), 0);
    assert_eq!(w.next_io(), Io { write: true, offset: 0, len: 8192 });
    assert_eq!(w.next_io().offset, 8192);
}

#[test]
fn randrw_mixes_reads_at_rwmixread_percent_within_the_region() {
    let s = spec(Rw::RandRw, Dist::Uniform);
    let mut job = Job::new(&s, 1);
    let n = 20_000;
    let ios: Vec<Io> = (0..n).map(|_| job.next_io()).collect();
    let reads = ios.iter().filter(|io| !io.write).count();
    assert!((reads as f64 / n as f64 - 0.70).abs() < 0.02, "{reads} reads of {n}");
    assert!(ios.iter().all(|io| io.offset % s.bs == 0 && io.offset + io.len <= s.size));
    let distinct: std::collections::BTreeSet<u64> = ios.iter().map(|io| io.offset).collect();
    assert_eq!(distinct.len(), 128, "uniform touches every unit");
    // Same seed and index, same sequence; other index, other sequence.
    let again: Vec<Io> = {
        let mut j = Job::new(&s, 1);
        (0..n).map(|_| j.next_io()).collect()
    };
    assert_eq!(ios, again);
    let mut other = Job::new(&s, 2);
    assert_ne!(ios[..16], (0..16).map(|_| other.next_io()).collect::<Vec<_>>()[..]);
}

#[test]
fn zipf_ranks_follow_the_power_law() {
    // P(1) / P(2) = 2^theta; P(1) = 1 / H(n, theta).
    for theta in [0.5, 0.9, 1.0, 1.2, 2.0] {
        let n = 1000;
        let z = Zipf::new(n, theta);
        let mut rng = XorShift64::new(3);
        let draws = 200_000;
        let mut counts = std::vec![0u64; n as usize + 1];
        for _ in 0..draws {
            let k = z.sample(&mut rng);
            assert!((1..=n).contains(&k));
            counts[k as usize] += 1;
        }
        let h: f64 = (1..=n).map(|k| 1.0 / (k as f64).powf(theta)).sum();
        for k in [1u64, 2, 10] {
            let want = 1.0 / (k as f64).powf(theta) / h;
            let got = counts[k as usize] as f64 / draws as f64;
            assert!((got - want).abs() < 0.01 + 0.05 * want, "theta {theta} rank {k}: {got} vs {want}");
        }
    }
}

#[test]
fn zipf_hot_set_is_shared_by_jobs_and_scattered() {
    let s = JobSpec { rw: Rw::RandRead, rwmixread: 100, dist: Dist::Zipf(1.2), bs: 4096, size: 4096 * 1000, jobs: 2, seed: 1 };
    let top = |index| {
        let mut job = Job::new(&s, index);
        let mut counts = std::collections::BTreeMap::new();
        for _ in 0..20_000 {
            *counts.entry(job.next_io().offset / 4096).or_insert(0u32) += 1;
        }
        counts.into_iter().max_by_key(|&(_, c)| c).unwrap().0
    };
    assert_eq!(top(0), top(1), "every job's hottest unit is the same");
    assert_ne!(top(0), 0, "rank 1 is not packed at the file's start");
}

#[test]
fn scatter_is_a_bijection() {
    for n in [3u64, 4, 10, 97, 100, 1024, 4099] {
        let a = stride(n);
        let mut seen = std::vec![false; n as usize];
        for r in 0..n {
            let u = scatter(r, n, a) as usize;
            assert!(!seen[u], "n={n}: {u} twice");
            seen[u] = true;
        }
    }
}

#[test]
fn ln_matches_std() {
    for x in [1e-300, 1e-10, 0.1, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 1e6, 1e300, 5e-324] {
        let (got, want) = (zipf::ln(x), x.ln());
        assert!((got - want).abs() <= 1e-14 * want.abs().max(1.0), "ln({x}) = {got}, want {want}");
    }
    assert_eq!(zipf::ln(0.0), f64::NEG_INFINITY);
    assert!(zipf::ln(-1.0).is_nan());
}

#[test]
fn histogram_percentiles_within_bucket_error() {
    let mut h = Histogram::new();
    assert_eq!(h.percentile(50.0), 0);
    for v in 1..=10_000u64 {
        h.record(v * 100);
    }
    assert_eq!(h.count(), 10_000);
    assert_eq!(h.max(), 1_000_000);
    assert_eq!(h.mean(), 500_050.0);
    for (p, exact) in [(50.0, 500_000.0), (99.0, 990_000.0), (1.0, 10_000.0)] {
        let got = h.percentile(p) as f64;
        assert!(got >= exact && got <= exact * 1.0625, "p{p}: {got} vs {exact}");
    }
    assert_eq!(h.percentile(100.0), 1_000_000);
    // Small values are exact; merge adds counts.
    let mut small = Histogram::new();
    for v in [3u64, 3, 5, 9] {
        small.record(v);
    }
    assert_eq!(small.percentile(50.0), 3);
    assert_eq!(small.percentile(75.0), 5);
    assert_eq!(small.percentile(100.0), 9);
    small.merge(&h);
    assert_eq!(small.count(), 10_004);
    assert_eq!(small.max(), 1_000_000);
    let mut huge = Histogram::new();
    huge.record(u64::MAX);
    assert_eq!(huge.percentile(50.0), u64::MAX);
}

#[test]
fn stamps_catch_misplaced_torn_and_foreign_blocks() {
    let mut a = std::vec![0u8; 4096];
    verify::stamp(&mut a, 42, 7);
    assert_eq!(verify::check(&a, 42), Ok(7));
    assert_eq!(verify::check(&a, 43), Err(verify::Corrupt::WrongBlock { found: 42 }));
    let mut b = std::vec![0u8; 4096];
    verify::stamp(&mut b, 42, 8);
    assert!(a[32..].iter().zip(&b[32..]).filter(|(x, y)| x == y).count() < 64, "two writes differ nearly everywhere");
    let mut torn = a.clone();
    torn[2048..].copy_from_slice(&b[2048..]);
    assert_eq!(verify::check(&torn, 42), Err(verify::Corrupt::BadChecksum { seq: 7 }));
    assert_eq!(verify::check(&std::vec![0u8; 4096], 42), Err(verify::Corrupt::NoStamp));
    assert_eq!(verify::check(&a[..512], 42), Err(verify::Corrupt::BadLength(512)));
}
