#!/usr/bin/env python3
"""ferrite's core workloads on panvm against the host's own Linux running the same workload as a
small C program (bench/linux-peer), alternating A/B, medians and ratios. Prints one JSON object.

Each ferrite run boots the kernel with `workload=<name> ...`; the kernel prints one JSON line with
`ns_per_op`. On a PVM host ferrite runs in PVM native mode (kernel code at native speed, polling);
the figures say so in `mode`/`irq`.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

import vmms

# name -> (ferrite command line, peer binary, peer arguments, ferrite vCPUs). The parameters match
# on both sides (see each peer's header comment); `delay_ms` lets panvm's JVM finish its start-up
# work (JIT, RAM prefault) before the timed part, which otherwise competes for the 2 host cores.
CASES = {
    "pipe-same": ("workload=pipe pin=same ops=100000 delay_ms=1000", "pipe", ["--pin=same", "--ops=100000"], 2),
    "pipe-split": ("workload=pipe pin=split ops=100000 delay_ms=1000", "pipe", ["--pin=split", "--ops=100000"], 2),
    "hackbench": ("workload=hackbench groups=10 loops=100 delay_ms=1000", "hackbench", ["--groups=10", "--loops=100"], 2),
    "kmalloc": ("workload=kmalloc ops=1000000 slots=1024 delay_ms=1000", "kmalloc", ["--ops=1000000", "--slots=1024"], 1),
    "pages": ("workload=pages ops=1000000 depth=16 delay_ms=1000", "pages", ["--ops=200000", "--depth=16"], 1),
}


def json_line(text, what):
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{") and '"workload"' in line:
            return json.loads(line)
    sys.exit(f"kernel_workloads: no JSON result from {what}:\n{text[-2000:]}")


def run_ferrite(panvm, kernel, cmdline, cpus):
    cmd = vmms.panvm(panvm, kernel, cmdline, extra=["--cpus", str(cpus), "--timeout", "120"])
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"kernel_workloads: {' '.join(cmd)} exited {p.returncode}\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    return json_line(p.stdout, "ferrite " + cmdline)


def run_peer(peer_dir, binary, args):
    p = subprocess.run([os.path.join(peer_dir, binary)] + args, capture_output=True, text=True, check=True)
    return json_line(p.stdout, binary)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--panvm", required=True)
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--peers", required=True, help="directory with the built linux-peer programs")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--cases", default=",".join(CASES))
    args = ap.parse_args()

    results = {}
    for name in args.cases.split(","):
        cmdline, binary, peer_args, cpus = CASES[name]
        ferrite, linux, last = [], [], None
        for i in range(args.runs):
            last = run_ferrite(args.panvm, args.kernel, cmdline, cpus)
            ferrite.append(last["ns_per_op"])
            linux.append(run_peer(args.peers, binary, peer_args)["ns_per_op"])
        fm, lm = statistics.median(ferrite), statistics.median(linux)
        results[name] = {"ferrite_ns_per_op": fm, "linux_ns_per_op": lm, "ratio_ferrite_over_linux": fm / lm,
                         "ferrite_samples": ferrite, "linux_samples": linux, "cpus": cpus,
                         "ferrite_last_result": last}
        print(f"kernel_workloads: {name}: ferrite {fm:.1f} ns/op, linux {lm:.1f} ns/op", file=sys.stderr)
    json.dump({"runs": args.runs, "cases": results}, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
