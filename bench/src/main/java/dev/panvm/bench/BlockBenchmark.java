package dev.panvm.bench;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;

/**
 * ferrite's virtio-blk driver (polling, event idx, indirect descriptors) reading the raw image
 * images/out/bench-raw.img through panvm's virtio-blk and through QEMU's, one vCPU: 4 KiB random
 * reads at queue depth 1 and 32, 1 MiB sequential reads at queue depth 8. Both VMMs read the
 * image through the host page cache, which the first invocations warm. One operation = one request.
 */
public class BlockBenchmark extends GuestBenchmark {
    static final int QD1_OPS = 2_000;
    static final int QD32_OPS = 10_000;
    static final int SEQ_OPS = 200;

    @Param({"panvm", "qemu"})
    public String vmm;

    @Setup(Level.Trial)
    public void boot() throws Exception {
        subject = Subject.start(vmm, 1, config -> config.disk(BenchEnv.image("bench-raw.img"), true));
    }

    @Benchmark
    @OperationsPerInvocation(QD1_OPS)
    public Object randread4kQd1() throws Exception {
        return run("diskbench", "mode=randread bs=4096 qd=1 warmup=0 ops=" + QD1_OPS);
    }

    @Benchmark
    @OperationsPerInvocation(QD32_OPS)
    public Object randread4kQd32() throws Exception {
        return run("diskbench", "mode=randread bs=4096 qd=32 warmup=0 ops=" + QD32_OPS);
    }

    @Benchmark
    @OperationsPerInvocation(SEQ_OPS)
    public Object seqread1mQd8() throws Exception {
        return run("diskbench", "mode=seqread bs=1048576 qd=8 warmup=0 ops=" + SEQ_OPS);
    }
}
