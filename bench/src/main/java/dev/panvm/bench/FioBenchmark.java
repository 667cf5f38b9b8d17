package dev.panvm.bench;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;

import com.fasterxml.jackson.databind.node.ObjectNode;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.TimeUnit;

/**
 * The page-cache policies under concurrent mixed reads and writes, where the research expects a
 * learned manager to win: ferrite's {@code fio} workload, {@code jobs} kernel threads on
 * {@value #CPUS} vCPUs sharing one page cache of {@value #CACHE_PAGES} pages (8 MiB) over
 * {@value FileBenchmark#FILE} (32 MiB) of a writable copy of images/out/bench-ext2.img, 4 KiB
 * random I/O with Zipf(0.9) offsets, {@code rwmixread} % reads, per policy; panvm only (the
 * figure compares policies, LRU and ARC being the baselines, and ferrite starts several CPUs
 * only on panvm). The cache is kept between invocations ({@code keep_cache=1}), so the policies
 * (and the Q-learning manager's tables) run in their steady state. One operation = one I/O of any
 * job: time per operation is the inverse of the total throughput. The guest's device requests
 * and hit ratio are secondary results ({@link SecondaryMetrics#DEVICE_REQUESTS_PER_OP},
 * {@link SecondaryMetrics#HIT_RATIO}): they say why one policy is faster than another, and, unlike
 * time, they do not depend on the host's noise.
 */
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class FioBenchmark extends GuestBenchmark {
    static final int CPUS = 2;
    static final int CACHE_PAGES = 2048;
    /** I/Os per invocation, shared out among the jobs. */
    static final int OPS = 4096;

    @Param({"lru", "arc", "qlearn"})
    public String policy;

    @Param({"1", "4"})
    public int jobs;

    @Param({"100", "70", "50"})
    public int rwmixread;

    private Path writableCopy;

    @Setup(Level.Trial)
    public void boot() throws Exception {
        writableCopy = Files.createTempFile("panvm-fio", ".img");
        Files.copy(BenchEnv.image("bench-ext2.img"), writableCopy, StandardCopyOption.REPLACE_EXISTING);
        subject = Subject.start("panvm", CPUS, config -> config.disk(writableCopy, false));
    }

    /** The copy goes with the trial (whichever teardown runs first: the VM holds the file open). */
    @TearDown(Level.Trial)
    public void removeCopy() throws Exception {
        Files.deleteIfExists(writableCopy);
    }

    /** {@code run fio} with this trial's parameters: its words, for the tests. */
    String words() {
        return "file=" + FileBenchmark.FILE + " jobs=" + jobs + " rw=randrw rwmixread=" + rwmixread
                + " dist=zipf:0.9 bs=4096 ops=" + OPS / jobs + " seed=1 cache=" + policy
                + " cache_pages=" + CACHE_PAGES + " keep_cache=1";
    }

    /** {@value #OPS} I/Os of 4 KiB in all, {@code OPS / jobs} per job. */
    @Benchmark
    @OperationsPerInvocation(OPS)
    public Object randrw() throws Exception {
        ObjectNode r = (ObjectNode) run("fio", words());
        SecondaryMetrics.record(SecondaryMetrics.DEVICE_REQUESTS_PER_OP,
                r.path("device_reads").asDouble() + r.path("device_writes").asDouble(), r.path("ops").asDouble());
        SecondaryMetrics.record(SecondaryMetrics.HIT_RATIO, r.path("hits").asDouble(),
                r.path("hits").asDouble() + r.path("misses").asDouble());
        return r;
    }
}
