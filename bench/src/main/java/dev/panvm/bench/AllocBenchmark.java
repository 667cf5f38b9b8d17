package dev.panvm.bench;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;

/**
 * ferrite's allocators (2 vCPUs) against the host's Linux: kmalloc+kfree over a log-uniform size
 * mix 8..4096 (ferrite's slab caches; glibc malloc+free on Linux) with one and two churning
 * threads (each with its own {@value #KMALLOC_OPS} pairs; the score is wall time per thread's
 * pair, flat if the allocator scales), the same pairs split across CPUs (producer/consumer: one
 * thread allocates, a thread on the other CPU frees, so every free is remote), and order-0 page
 * alloc+free (ferrite's per-CPU page cache;
 * on Linux a page fault plus MADV_DONTNEED, the cheapest way a process gets and returns a page).
 */
public class AllocBenchmark extends AgainstHostLinux {
    /**
     * Operations per run: ferrite's page allocator takes ~15 ns an operation, so a run must be
     * long enough for the control channel's round trip not to count; Linux's fault+madvise
     * (~1.4 us) then takes under a second.
     */
    static final int KMALLOC_OPS = 500_000;
    static final int PAGE_OPS = 500_000;


    /** Threads churning at once. */
    @State(Scope.Benchmark)
    public static class Threads {
        @Param({"1", "2"})
        public int threads;
    }

    @Benchmark
    @OperationsPerInvocation(KMALLOC_OPS)
    public Object kmalloc(Threads t) throws Exception {
        return run("kmalloc", "ops=" + KMALLOC_OPS + " threads=" + t.threads);
    }

    @Benchmark
    @OperationsPerInvocation(KMALLOC_OPS)
    public Object kmallocProducerConsumer() throws Exception {
        return run("kmalloc", "ops=" + KMALLOC_OPS + " mode=pc threads=2");
    }

    @Benchmark
    @OperationsPerInvocation(PAGE_OPS)
    public Object pages() throws Exception {
        return run("pages", "ops=" + PAGE_OPS + " depth=16 buddy=0");
    }
}
