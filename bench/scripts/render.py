#!/usr/bin/env python3
"""Renders a benchmark run (JMH JSON + boot-time JSON) as a Markdown table, with the host facts
every figure needs: host kind (PVM or hardware KVM), CPU, JDK, commit."""
import argparse
import json
import statistics


def jmh_scores(path):
    """{vmm: (score, error, unit, samples)} for the port-I/O exit benchmark."""
    out = {}
    for run in json.load(open(path)):
        if not run["benchmark"].endswith("PortIoExitBenchmark.portIoExit"):
            continue
        m = run["primaryMetric"]
        raw = [x for fork in m.get("rawData", []) for x in fork]
        out[run["params"]["vmm"]] = (m["score"], m["scoreError"], m["scoreUnit"], raw)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--jmh", required=True)
    ap.add_argument("--boot", required=True)
    ap.add_argument("--host", required=True, help="host kind line")
    ap.add_argument("--cpu", required=True)
    ap.add_argument("--jdk", required=True)
    ap.add_argument("--commit", required=True)
    ap.add_argument("--date", required=True)
    ap.add_argument("--kernel", help="kernel_workloads.py JSON (ferrite vs host Linux)")
    ap.add_argument("--block", help="block_bench.py JSON (virtio-blk on panvm vs QEMU)")
    ap.add_argument("--cache", help="cache_bench.py JSON (page-cache policies, file workloads, panvm vs QEMU)")
    args = ap.parse_args()

    pio = jmh_scores(args.jmh)
    boot = json.load(open(args.boot))
    lines = [
        f"Host: **{args.host}**, {args.cpu}, 2 vCPUs available; JDK {args.jdk}; commit {args.commit}; {args.date}.",
        "",
        "| measurement | panvm | QEMU 7.2 microvm | panvm / QEMU |",
        "| --- | ---: | ---: | ---: |",
    ]
    if "panvm" in pio and "qemu" in pio:
        p, q = pio["panvm"], pio["qemu"]
        lines.append(
            f"| port-I/O exit round trips (guest `out` in PVM native mode -> VMM device), exits/s, JMH mean ± 99.9% CI "
            f"| {p[0]:,.0f} ± {p[1]:,.0f} | {q[0]:,.0f} ± {q[1]:,.0f} | {p[0] / q[0]:.2f} |")
        lines.append(
            f"| same, as microseconds per exit (median of iterations) "
            f"| {1e6 / statistics.median(p[3]):.1f} | {1e6 / statistics.median(q[3]):.1f} "
            f"| {statistics.median(q[3]) / statistics.median(p[3]):.2f} |")
    v = boot["vmms"]
    lines.append(
        f"| process start -> ferrite banner, ms (median of {boot['runs']}, {boot['mem']} RAM) "
        f"| {v['panvm']['banner_s'] * 1000:.0f} | {v['qemu']['banner_s'] * 1000:.0f} "
        f"| {boot['ratio_banner_panvm_over_qemu']:.1f} |")
    lines.append(
        f"| process start -> VM exit, ms (median of {boot['runs']}) "
        f"| {v['panvm']['exit_s'] * 1000:.0f} | {v['qemu']['exit_s'] * 1000:.0f} "
        f"| {boot['ratio_exit_panvm_over_qemu']:.1f} |")
    if args.kernel:
        lines += kernel_table(json.load(open(args.kernel)))
    if args.block:
        lines += block_table(json.load(open(args.block)))
    if args.cache:
        lines += cache_table(json.load(open(args.cache)))
    print("\n".join(lines))


KERNEL_ROWS = {
    "pipe-same": "pipe ping-pong, both threads on one CPU: ns per round trip (2 context switches)",
    "pipe-split": "pipe ping-pong, threads on two CPUs: ns per round trip (2 cross-CPU wakeups)",
    "hackbench": "hackbench, 10 groups x 20 threads, 100-byte messages: ns per message",
    "kmalloc": "kmalloc+kfree (ferrite slab) vs malloc+free (glibc), size mix 8..4096: ns per pair",
    "pages": "page alloc+free (ferrite per-CPU cache) vs fault+MADV_DONTNEED (Linux, user space): ns per page",
}


def kernel_table(k):
    any_case = next(iter(k["cases"].values()))
    last = any_case["ferrite_last_result"]
    lines = [
        "",
        f"ferrite's core workloads on panvm (mode `{last.get('mode')}`, irq `{last.get('irq')}`) against the "
        f"host's own Linux running the same workload as a C program (bench/linux-peer), median of {k['runs']} "
        "alternating runs. The host Linux is itself a guest of the PVM hypervisor here, so its system calls and "
        "context switches carry that cost too.",
        "",
        "| workload | ferrite vCPUs | ferrite | host Linux | ferrite / Linux |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, c in k["cases"].items():
        lines.append(f"| {KERNEL_ROWS.get(name, name)} | {c['cpus']} | {c['ferrite_ns_per_op']:,.1f} "
                     f"| {c['linux_ns_per_op']:,.1f} | {c['ratio_ferrite_over_linux']:.3f} |")
    return lines



BLOCK_ROWS = {
    "randread-4k-qd1": "4 KiB random reads, queue depth 1",
    "randread-4k-qd32": "4 KiB random reads, queue depth 32",
    "seqread-1m-qd8": "1 MiB sequential reads, queue depth 8",
}


def block_table(b):
    lines = [
        "",
        "ferrite's virtio-blk driver (polling, event idx) reading a 256 MiB image through panvm's virtio-blk and "
        f"QEMU's (both through the host page cache), and panvm's null backend; median of {b['runs']} alternating "
        "runs; ns per request (MiB/s at that rate); exits = queue notifications per request (last run).",
        "",
        "| access | panvm | QEMU 7.2 | panvm / QEMU | panvm null backend | exits/request panvm, QEMU |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, c in b["cases"].items():
        m, last = c["ns_per_op"], c["last"]

        bs = last["panvm"]["bs"]

        def cell(k):  # MiB/s from the median, not from one run
            return f"{m[k]:,.0f} ({bs / m[k] * 1e9 / 2**20:,.0f})"

        lines.append(f"| {BLOCK_ROWS.get(name, name)} | {cell('panvm')} | {cell('qemu')} "
                     f"| {c['ratio_panvm_over_qemu']:.2f} | {cell('panvm-null')} "
                     f"| {last['panvm'].get('exits_per_request', 0):.3f}, {last['qemu'].get('exits_per_request', 0):.3f} |")
    return lines


CACHE_WORKLOADS = {
    "seqread": "seqread: the whole file in 64 KiB reads, {passes} passes",
    "randread": "randread: {ops:,} random 4 KiB reads",
    "mixed": "mixed: {ops:,} 4 KiB reads, each at random a random block or the next of a sequential cursor",
    "scanhot": "scanhot: {ops:,} 4 KiB reads, rounds of a hot set ({hot_pages} pages) then a scan ({scan_pages} pages)",
}


def cache_table(c):
    """ferrite's file workloads per page-cache policy: hit ratio and in-guest MiB/s on both VMMs."""
    described = []
    for w, policies in c["workloads"].items():
        last = next(iter(policies.values()))["last"]["panvm"]
        described.append(CACHE_WORKLOADS.get(w, w).format(**{"passes": 1, "hot_pages": "?", "scan_pages": "?", **last}))
    lines = [
        "",
        f"ferrite's page cache: file workloads over ext2 reading a {c['file_mib']} MiB file through a "
        f"{c['cache_pages']}-page ({c['cache_pages'] * 4 // 1024} MiB) cache with read-ahead up to {c['readahead']} "
        f"pages, seed {c['seed']} ({'; '.join(described)}); the same guest and image on panvm and QEMU, median of "
        f"{c['runs']} alternating boots, each measuring the workload after {c.get('warmup', 0)} unmeasured run(s) of it in "
        "the same VM (the ratio: median of each boot pair's panvm / QEMU). MiB/s is the guest's own "
        "clock over the workload's reads, from a cold page cache; the hit ratio is cache hits over lookups, "
        "ext2 metadata included (median of all runs on both VMMs; a range where runs differed); every "
        "read also looks up its inode and indirect blocks, which stay cached, so the device requests "
        "(demand misses plus merged read-ahead, last panvm run) show the policies apart better.",
        "",
        "| workload | policy | hit ratio | device requests | MiB/s panvm | MiB/s QEMU | panvm / QEMU |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for w, policies in c["workloads"].items():
        for i, (p, r) in enumerate(policies.items()):
            m = r["mib_per_s"]
            lo, hi = r.get("hit_ratio_range", [r["hit_ratio"]] * 2)
            hit = f"{r['hit_ratio']:.4f}" if lo == hi else f"{r['hit_ratio']:.4f} ({lo:.4f}-{hi:.4f})"
            reads = r["last"]["panvm"].get("device_reads", 0)
            lines.append(f"| {w if i == 0 else ''} | {p} | {hit} | {reads:,} | {m['panvm']:,.1f} "
                         f"| {m['qemu']:,.1f} | {r['ratio_panvm_over_qemu']:.2f} |")
    return lines


if __name__ == "__main__":
    main()
