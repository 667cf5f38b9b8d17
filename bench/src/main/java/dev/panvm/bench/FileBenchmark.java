package dev.panvm.bench;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.infra.BenchmarkParams;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.TimeUnit;

/**
 * ferrite's page cache and block layer under its file workloads, per replacement policy, on
 * panvm and on QEMU (same guest, same image): the ext2 image images/out/bench-ext2.img holds
 * {@value #FILE}, 32 MiB of seeded random bytes; the cache holds {@value #CACHE_PAGES} pages
 * (8 MiB), read-ahead up to 32 pages. {@code cache=cold}: every invocation starts with an empty
 * cache; {@code cache=warm}: the cache is kept between invocations ({@code keep_cache=1}), so
 * what earlier invocations left in it is there. One operation = one read (or write) call of the
 * workload: 64 KiB for seqread and filewrite, 4 KiB for the others. filewrite overwrites the file
 * in a copy of the image made for the trial, then syncs (without the read-back that checks it:
 * the KVM tests check the bytes).
 */
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class FileBenchmark extends GuestBenchmark {
    static final String FILE = "/data.bin";
    static final int CACHE_PAGES = 2048;
    /** 64 KiB calls over the 32 MiB file. */
    static final int WHOLE_FILE_CALLS = 512;
    static final int RANDREAD_OPS = 4096;
    static final int MIXED_OPS = 8192;
    static final int SCANHOT_OPS = 8192;

    @Param({"panvm", "qemu"})
    public String vmm;

    @Param({"lru", "clock", "arc", "lecar", "qlearn"})
    public String policy;

    @Param({"cold", "warm"})
    public String cache;

    private Path writableCopy;

    @Setup(Level.Trial)
    public void boot(BenchmarkParams params) throws Exception {
        Path image = BenchEnv.image("bench-ext2.img");
        boolean writes = params.getBenchmark().endsWith(".filewrite");
        if (writes) {
            writableCopy = Files.createTempFile("panvm-filewrite", ".img");
            Files.copy(image, writableCopy, StandardCopyOption.REPLACE_EXISTING);
        }
        Path disk = writes ? writableCopy : image;
        subject = Subject.start(vmm, 1, config -> config.disk(disk, !writes));
    }

    /** The copy goes with the trial (whichever teardown runs first: the VM holds the file open). */
    @TearDown(Level.Trial)
    public void removeCopy() throws Exception {
        if (writableCopy != null) {
            Files.deleteIfExists(writableCopy);
        }
    }

    /** The file workload on {@value #FILE} with this trial's policy and cache temperature. */
    private Object file(String workload, String params) throws Exception {
        return run(workload, "file=" + FILE + " cache=" + policy + " cache_pages=" + CACHE_PAGES
                + (cache.equals("warm") ? " keep_cache=1 " : " ") + params);
    }

    @Benchmark
    @OperationsPerInvocation(WHOLE_FILE_CALLS)
    public Object seqread() throws Exception {
        return file("seqread", "passes=1");
    }

    @Benchmark
    @OperationsPerInvocation(RANDREAD_OPS)
    public Object randread() throws Exception {
        return file("randread", "ops=" + RANDREAD_OPS);
    }

    @Benchmark
    @OperationsPerInvocation(MIXED_OPS)
    public Object mixed() throws Exception {
        return file("mixed", "ops=" + MIXED_OPS);
    }

    @Benchmark
    @OperationsPerInvocation(SCANHOT_OPS)
    public Object scanhot() throws Exception {
        return file("scanhot", "ops=" + SCANHOT_OPS);
    }

    @Benchmark
    @OperationsPerInvocation(WHOLE_FILE_CALLS)
    public Object filewrite() throws Exception {
        return file("filewrite", "bs=65536 verify=0");
    }
}
