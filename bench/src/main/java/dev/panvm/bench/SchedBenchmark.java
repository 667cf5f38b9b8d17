package dev.panvm.bench;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;

/**
 * ferrite's scheduler (2 vCPUs) against the host's Linux running the same workloads
 * (bench/linux-peer): pipe ping-pong between two threads on one CPU (two context switches per
 * round trip) and on two CPUs (two cross-CPU wakeups), and hackbench (pipe messaging between
 * groups of 10 senders and 10 receivers). One operation = one round trip / one 100-byte message.
 */
public class SchedBenchmark extends AgainstHostLinux {
    /**
     * Round trips per run: enough that the control channel's round trip (under a millisecond)
     * is small beside the run, few enough that the slowest system (the host's Linux across CPUs,
     * ~70 us a round trip on a PVM host) finishes a run in about a second.
     */
    static final int PIPE_SAME_OPS = 50_000;
    static final int PIPE_CROSS_OPS = 10_000;
    /** Messages per hackbench run: groups x 10 senders x 10 receivers x loops, loops chosen to match. */
    static final int HACKBENCH_MESSAGES = 400_000;


    /** hackbench's group count (20 threads each); the loop count keeps the messages per run fixed. */
    @State(Scope.Benchmark)
    public static class Hackbench {
        @Param({"2", "10"})
        public int groups;
    }

    @Benchmark
    @OperationsPerInvocation(PIPE_SAME_OPS)
    public Object pipeSameCpu() throws Exception {
        return run("pipe", "pin=same ops=" + PIPE_SAME_OPS);
    }

    @Benchmark
    @OperationsPerInvocation(PIPE_CROSS_OPS)
    public Object pipeCrossCpu() throws Exception {
        return run("pipe", "pin=split ops=" + PIPE_CROSS_OPS);
    }

    @Benchmark
    @OperationsPerInvocation(HACKBENCH_MESSAGES)
    public Object hackbench(Hackbench h) throws Exception {
        int loops = HACKBENCH_MESSAGES / (h.groups * 100);
        return run("hackbench", "groups=" + h.groups + " loops=" + loops);
    }
}
