#!/usr/bin/env python3
"""Time from process start to ferrite's banner, and to the VM's exit, on panvm and on QEMU.

Both VMMs boot the same ferrite image; runs alternate between them (A/B) and the medians are
reported with their ratio. Output: one JSON object on stdout.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import vmms as peers

BANNER = b"booted"


def timed_run(cmd):
    """Returns (seconds to the banner line, seconds to exit, exit status)."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    banner_at = None
    for line in proc.stdout:
        if banner_at is None and BANNER in line:
            banner_at = time.monotonic() - start
    status = proc.wait()
    end = time.monotonic() - start
    if banner_at is None:
        sys.exit(f"boot_time: no banner from {' '.join(cmd)} (status {status})")
    return banner_at, end, status


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--panvm", required=True, help="the panvm launcher (scripts/panvm)")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--mem", default="512M")
    args = ap.parse_args()

    vmms = {
        "panvm": peers.panvm(args.panvm, args.kernel, mem=args.mem),
        "qemu": peers.qemu(args.kernel, mem=args.mem),
    }
    expected_status = {"panvm": peers.PANVM_SUCCESS, "qemu": peers.QEMU_SUCCESS}
    samples = {name: {"banner_s": [], "exit_s": []} for name in vmms}
    for i in range(args.runs):
        for name, cmd in vmms.items():
            banner, end, status = timed_run(cmd)
            if status != expected_status[name]:
                sys.exit(f"boot_time: {name} exited with {status}, expected {expected_status[name]}")
            samples[name]["banner_s"].append(banner)
            samples[name]["exit_s"].append(end)
        print(f"boot_time: run {i + 1}/{args.runs} done", file=sys.stderr)
    result = {"runs": args.runs, "mem": args.mem, "vmms": {}}
    for name, s in samples.items():
        result["vmms"][name] = {k: statistics.median(v) for k, v in s.items()} | {"samples": s}
    p, q = result["vmms"]["panvm"], result["vmms"]["qemu"]
    result["ratio_banner_panvm_over_qemu"] = p["banner_s"] / q["banner_s"]
    result["ratio_exit_panvm_over_qemu"] = p["exit_s"] / q["exit_s"]
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
