#!/usr/bin/env python3
"""Writes the synthetic block traces the page-cache policies are compared on (bench/traces/).

CSV, one request per line: timestamp_ns,op,offset,length (op R or W; offset and length in bytes,
4 KiB aligned). Seeded: the same files every time.

  seqscan    one sequential pass over 64 MiB, four times (no reuse within a cache's reach)
  zipf       requests to 32 MiB of pages drawn from a Zipf(0.99) distribution (a hot set)
  loop       a loop over 12 MiB repeated: larger than small caches (LRU's worst case)
  scanhot    a Zipf hot set of 2 MiB interleaved with one-off sequential scans (ARC's case)

Python rather than Java: it boots no VM and measures nothing; it ran once to make the files that
are checked in, and scripts/cachesim (the host-side Rust simulator) reads them.
"""
import argparse
import bisect
import os
import random

PAGE = 4096


def zipf_sampler(n, s, rng):
    weights = [1.0 / (k ** s) for k in range(1, n + 1)]
    cdf, total = [], 0.0
    for w in weights:
        total += w
        cdf.append(total)
    perm = list(range(n))
    rng.shuffle(perm)  # hot pages scattered over the range, not the first ones
    return lambda: perm[bisect.bisect_left(cdf, rng.random() * total)]


def write(path, pages, rng, write_ratio=0.1):
    with open(path, "w") as f:
        f.write("timestamp_ns,op,offset,length\n")
        t = 0
        for p in pages:
            t += 1000 + rng.randrange(1000)
            op = "W" if rng.random() < write_ratio else "R"
            f.write(f"{t},{op},{p * PAGE},{PAGE}\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "traces"))
    ap.add_argument("--requests", type=int, default=200_000)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = random.Random(20261125)
    n = args.requests

    seq = [i % (64 << 20 >> 12) for i in range(n)]
    write(os.path.join(args.out, "seqscan.csv"), seq, rng)

    z = zipf_sampler(32 << 20 >> 12, 0.99, rng)
    write(os.path.join(args.out, "zipf.csv"), [z() for _ in range(n)], rng)

    loop = [i % (12 << 20 >> 12) for i in range(n)]
    write(os.path.join(args.out, "loop.csv"), loop, rng)

    hot = zipf_sampler(2 << 20 >> 12, 0.8, rng)
    pages, scan_next = [], 1 << 20  # scans run over pages far from the hot set
    while len(pages) < n:
        if rng.random() < 0.997:  # about half the accesses end up in scans (avg. 288 pages each)
            pages.append(hot())
        else:
            for _ in range(rng.randrange(64, 512)):
                pages.append(scan_next)
                scan_next += 1
    write(os.path.join(args.out, "scanhot.csv"), pages[:n], rng)
    print(f"gen_traces: wrote seqscan, zipf, loop, scanhot ({n} requests each) to {os.path.abspath(args.out)}")


if __name__ == "__main__":
    main()
