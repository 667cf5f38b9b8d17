#!/usr/bin/env python3
"""ferrite's block driver (polling) on panvm's virtio-blk and on QEMU's, same image, same run,
alternating A/B; plus panvm's null backend (no media: the pure block-path cost). Prints one JSON
object with medians and ratios. Both VMMs read through the host page cache (panvm's FileChannel;
QEMU's default cache=writeback), so after the first run the image is served from memory on both.

ferrite prints one JSON line per run of `workload=diskbench mode=... bs=... ops=... qd=...`.
"""
import argparse
import json
import statistics
import subprocess
import sys

import vmms

# warmup: requests before the timed part, so panvm's device code is JIT-compiled (QEMU is native).
CASES = {
    "randread-4k-qd1": "mode=randread bs=4096 ops=20000 warmup=10000 qd=1",
    "randread-4k-qd32": "mode=randread bs=4096 ops=50000 warmup=20000 qd=32",
    "seqread-1m-qd8": "mode=seqread bs=1048576 ops=500 warmup=200 qd=8",
}


def result(text, what):
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{") and '"diskbench"' in line:
            return json.loads(line)
    sys.exit(f"block_bench: no diskbench result from {what}:\n{text[-2000:]}")


def panvm(args, disk, params):
    cmd = vmms.panvm(args.panvm, args.kernel, f"workload=diskbench delay_ms=1000 {params}",
                     extra=["--timeout", "300", "--disk", disk])
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"block_bench: {' '.join(cmd)} exited {p.returncode}\n{p.stdout[-1500:]}{p.stderr[-1500:]}")
    return result(p.stdout, "panvm")


def qemu(args, params):
    cmd = vmms.qemu(args.kernel, f"workload=diskbench delay_ms=1000 {params}",
                    extra=vmms.qemu_disk(args.image))
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != vmms.QEMU_SUCCESS:
        sys.exit(f"block_bench: QEMU exited {p.returncode}\n{p.stdout[-1500:]}{p.stderr[-1500:]}")
    return result(p.stdout, "qemu")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--panvm", required=True)
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--image", required=True, help="raw disk image (read only by the benchmark)")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    vmms.warm_host_cache(args.image)
    out = {"runs": args.runs, "cases": {}}
    for name, params in CASES.items():
        samples = {"panvm": [], "qemu": [], "panvm-null": []}
        last = {}
        for _ in range(args.runs):
            last["panvm"] = panvm(args, args.image + ",ro", params)
            last["qemu"] = qemu(args, params)
            last["panvm-null"] = panvm(args, "null:1G", params)
            for k in samples:
                samples[k].append(last[k]["ns_per_op"])
        med = {k: statistics.median(v) for k, v in samples.items()}
        out["cases"][name] = {"ns_per_op": med, "samples": samples, "last": last,
                              "ratio_panvm_over_qemu": med["panvm"] / med["qemu"]}
        print(f"block_bench: {name}: " + ", ".join(f"{k} {v:.0f} ns/op" for k, v in med.items()), file=sys.stderr)
    json.dump(out, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
