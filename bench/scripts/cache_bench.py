#!/usr/bin/env python3
"""ferrite's page cache per replacement policy: the file workloads (seqread, randread, mixed,
scanhot) read a file larger than the cache from an ext2 image, on panvm and on QEMU (the peer VMM,
same guest, same image), alternating A/B in the same run. Prints one JSON object with the median
in-guest MiB/s per VMM, the median of the same-run ratios panvm / QEMU and the hit ratio.

The image is made here with `mke2fs -d` from a seeded pseudo-random file, so every run reads the
same bytes; seqread's sha256 is checked against the host's. The workloads are seeded and the
policies deterministic, so without read-ahead a (workload, policy) has one hit ratio; read-ahead
that completes asynchronously can move a few hits with timing, so the script reports the median
hit ratio and its range over all runs on both VMMs (and warns when they differ). Throughput is the guest's own clock over the workload's reads (boot and
mount excluded); both VMMs serve the image from the host page cache (warmed first). Each boot
runs the workload through ferrite's control channel, `--warmup` times unmeasured, then once
measured, each run from a cold page cache: what is measured is the guest on a warmed-up VMM.
"""
import argparse
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading

import vmms

POLICIES = ["lru", "clock", "arc", "lecar", "qlearn"]

# name -> ferrite parameters besides file/cache/cache_pages/readahead/seed. Default op counts:
# randread 10,000 random 4 KiB reads; mixed and scanhot 4 x the file's blocks (32,768 for 32 MiB).
WORKLOADS = {
    "seqread": "passes=2",
    "randread": "",
    "mixed": "",
    "scanhot": "",
}

FILE_PATH = "/data.bin"  # inside the ext2 image


def find_mke2fs():
    for candidate in (shutil.which("mke2fs"), "/usr/sbin/mke2fs", "/sbin/mke2fs"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    sys.exit("cache_bench: mke2fs not found (apt-get install e2fsprogs)")


def make_image(workdir, file_mib, seed):
    """An ext2 image (4 KiB blocks) holding FILE_PATH: file_mib MiB of seeded random bytes.
    Returns (image path, the file's sha256)."""
    tree = os.path.join(workdir, "tree")
    os.makedirs(tree, exist_ok=True)
    data = random.Random(seed).randbytes(file_mib << 20)
    with open(os.path.join(tree, FILE_PATH.lstrip("/")), "wb") as f:
        f.write(data)
    image = os.path.join(workdir, "cache-bench.img")
    if os.path.exists(image):
        os.remove(image)
    p = subprocess.run([find_mke2fs(), "-q", "-t", "ext2", "-b", "4096", "-d", tree, image, f"{file_mib + 16}M"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"cache_bench: mke2fs failed:\n{p.stdout}{p.stderr}")
    return image, hashlib.sha256(data).hexdigest()


def session(cmd, success, workload, params, runs, what):
    """Boots ferrite with its control channel (`ctl=serial`), sends `run WORKLOAD PARAMS` `runs`
    times, then `exit 0`; returns every run's JSON result. The first runs warm the VMM up: a
    fresh panvm JVM interprets its device code until the JIT has compiled it (4x slower
    reads in the first run of randread here), QEMU is native code from the start."""
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    watchdog = threading.Timer(600, proc.kill)
    watchdog.start()
    seen = []

    def answer(want):
        for line in proc.stdout:
            seen.append(line)
            line = line.strip()
            if line.startswith("{") and (want in line or '"error"' in line):
                if '"error"' in line:
                    break
                return json.loads(line)
        proc.kill()
        sys.exit(f"cache_bench: no {want} from {what} ({' '.join(cmd)}):\n{''.join(seen)[-2000:]}")

    try:
        answer('"ctl":"ready"')
        results = []
        for _ in range(runs):
            proc.stdin.write(f"run {workload} {params}\n")
            proc.stdin.flush()
            results.append(answer(f'"workload":"{workload}"'))
        proc.stdin.write("exit 0\n")
        proc.stdin.close()
        seen.append(proc.stdout.read())
        status = proc.wait()
    finally:
        watchdog.cancel()
    if status != success:
        sys.exit(f"cache_bench: {what} exited {status} ({' '.join(cmd)}):\n{''.join(seen)[-2000:]}")
    return results


def panvm(args, image, workload, params):
    cmd = vmms.panvm(args.panvm, args.kernel, "ctl=serial", extra=["--timeout", "600", "--disk", image + ",ro"])
    return session(cmd, vmms.PANVM_SUCCESS, workload, params, 1 + args.warmup, "panvm")


def qemu(args, image, workload, params):
    cmd = vmms.qemu(args.kernel, "ctl=serial", extra=vmms.qemu_disk(image))
    return session(cmd, vmms.QEMU_SUCCESS, workload, params, 1 + args.warmup, "QEMU")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--panvm", required=True, help="panvm launcher (scripts/panvm)")
    ap.add_argument("--kernel", required=True, help="ferrite ELF")
    ap.add_argument("--workdir", help="where the image is made (default: a temporary directory, removed)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--file-mib", type=int, default=32)
    ap.add_argument("--cache-pages", type=int, default=2048, help="4 KiB pages (default 2048 = 8 MiB)")
    ap.add_argument("--readahead", type=int, default=32, help="pages per read-ahead window at most, 0 = off")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--warmup", type=int, default=1,
                    help="runs of the same workload before the measured one, in the same VM (default 1)")
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--policies", default=",".join(POLICIES))
    args = ap.parse_args()
    workloads = args.workloads.split(",")
    policies = args.policies.split(",")
    for w in workloads:
        if w not in WORKLOADS:
            sys.exit(f"cache_bench: unknown workload '{w}' (one of {', '.join(WORKLOADS)})")
    for p in policies:
        if p not in POLICIES:
            sys.exit(f"cache_bench: unknown policy '{p}' (one of {', '.join(POLICIES)})")
    if args.cache_pages * 4096 >= args.file_mib << 20:
        print("cache_bench: warning: the cache holds the whole file", file=sys.stderr)

    workdir = args.workdir or tempfile.mkdtemp(prefix="cache-bench-")
    os.makedirs(workdir, exist_ok=True)
    try:
        image, sha256 = make_image(workdir, args.file_mib, args.seed)
        vmms.warm_host_cache(image)
        out = run_all(args, image, sha256, workloads, policies)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    json.dump(out, sys.stdout, indent=2)
    print()


def run_all(args, image, sha256, workloads, policies):
    cases = [(w, p) for w in workloads for p in policies]
    samples = {c: {"panvm": [], "qemu": []} for c in cases}
    hit_ratios = {c: {"panvm": [], "qemu": []} for c in cases}
    last = {}
    # Runs outermost: each case's samples spread over the whole session, not one stretch of it.
    for run in range(args.runs):
        for w, p in cases:
            # Each run starts with a cold page cache (the workload mounts the file system anew).
            params = (f"file={FILE_PATH} cache={p} cache_pages={args.cache_pages} readahead={args.readahead} "
                      f"seed={args.seed} {WORKLOADS[w]}").strip()
            every = {"panvm": panvm(args, image, w, params), "qemu": qemu(args, image, w, params)}
            for vmm, results in every.items():
                for res in results:
                    if w == "seqread" and res.get("sha256") != sha256:
                        sys.exit(f"cache_bench: {vmm} {p} seqread read {res.get('sha256')}, the file is {sha256}")
                    hit_ratios[(w, p)][vmm].append(res["hit_ratio"])
                samples[(w, p)][vmm].append(results[-1]["mib_per_s"])
            r = {vmm: results[-1] for vmm, results in every.items()}
            last[(w, p)] = r
            print(f"cache_bench: run {run + 1}/{args.runs} {w} {p}: hit ratio {r['panvm']['hit_ratio']}, "
                  f"panvm {r['panvm']['mib_per_s']:.1f} MiB/s, QEMU {r['qemu']['mib_per_s']:.1f} MiB/s",
                  file=sys.stderr)
    out = {"runs": args.runs, "warmup": args.warmup, "file_mib": args.file_mib, "cache_pages": args.cache_pages,
           "readahead": args.readahead, "seed": args.seed, "workloads": {}}
    for w, p in cases:
        every = hit_ratios[(w, p)]["panvm"] + hit_ratios[(w, p)]["qemu"]
        if min(every) != max(every):
            print(f"cache_bench: warning: {w} {p}: the hit ratio differs between runs or VMMs: "
                  f"{hit_ratios[(w, p)]}", file=sys.stderr)
        s = samples[(w, p)]
        # The ratio of each run's pair (panvm, then QEMU right after it): the host's load drifts
        # over minutes on a shared 2-core machine, and a pair sees the same load.
        ratios = [a / b for a, b in zip(s["panvm"], s["qemu"])]
        out["workloads"].setdefault(w, {})[p] = {
            "hit_ratio": statistics.median(every),
            "hit_ratio_range": [min(every), max(every)],
            "hit_ratio_samples": hit_ratios[(w, p)],
            "mib_per_s": {vmm: statistics.median(v) for vmm, v in s.items()},
            "ratio_panvm_over_qemu": statistics.median(ratios),
            "ratio_samples": ratios,
            "samples": s,
            "last": last[(w, p)],
        }
    return out


if __name__ == "__main__":
    main()
