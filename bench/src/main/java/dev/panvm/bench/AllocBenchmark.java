package dev.panvm.bench;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.util.concurrent.TimeUnit;

/**
 * ferrite's allocators (2 vCPUs) against the host's Linux: kmalloc+kfree over a log-uniform size
 * mix 8..4096 (ferrite's slab caches; glibc malloc+free on Linux) with one and two churning
 * threads (each with its own {@value #KMALLOC_OPS} pairs; the score is wall time per thread's
 * pair, flat if the allocator scales), and order-0 page alloc+free (ferrite's per-CPU page cache;
 * on Linux a page fault plus MADV_DONTNEED, the cheapest way a process gets and returns a page).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class AllocBenchmark {
    /**
     * Operations per run: ferrite's page allocator takes ~15 ns an operation, so a run must be
     * long enough for the control channel's round trip not to count; Linux's fault+madvise
     * (~1.4 us) then takes under a second.
     */
    static final int KMALLOC_OPS = 500_000;
    static final int PAGE_OPS = 500_000;

    @Param({"panvm", Subject.HOST_LINUX})
    public String vmm;

    private Subject subject;

    /** Threads churning at once. */
    @State(Scope.Benchmark)
    public static class Threads {
        @Param({"1", "2"})
        public int threads;
    }

    @Setup(Level.Trial)
    public void boot() throws Exception {
        subject = Subject.start(vmm, 2, config -> { });
    }

    @TearDown(Level.Trial)
    public void shutdown() throws Exception {
        subject.close();
    }

    @Benchmark
    @OperationsPerInvocation(KMALLOC_OPS)
    public Object kmalloc(Threads t) throws Exception {
        return subject.run("kmalloc", "ops=" + KMALLOC_OPS + " threads=" + t.threads);
    }

    @Benchmark
    @OperationsPerInvocation(PAGE_OPS)
    public Object pages() throws Exception {
        return subject.run("pages", "ops=" + PAGE_OPS + " depth=16");
    }
}
