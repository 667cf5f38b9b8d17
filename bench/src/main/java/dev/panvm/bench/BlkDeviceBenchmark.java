package dev.panvm.bench;

import dev.panvm.virtio.blk.BlockBackend;
import dev.panvm.virtio.blk.BlockRequest;
import dev.panvm.virtio.blk.FileBackend;
import dev.panvm.virtio.blk.NullBackend;
import dev.panvm.virtio.blk.VirtioBlk;
import dev.panvm.virtio.mock.SimulatedBlkDriver;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;

/**
 * panvm's virtio-blk device model without a guest or KVM ({@link SimulatedBlkDriver}): 4 KiB
 * random reads at queue depth 1 and 32, 1 MiB sequential reads at queue depth 8 and 4 KiB random
 * writes at queue depth 32, on a 64 MiB raw image in a temporary file ({@code file}), on the same
 * image behind a wait of {@value #SLOW_MICROS} µs per call ({@code slow}, a stand-in for reads a
 * page cache misses: an SSD's latency, without its bandwidth) or on the media-less backend
 * ({@code null}), with requests run on the device thread ({@code ioThreads} 0, the device before
 * it had I/O threads) or on 4 I/O threads. The image is written at set-up, so it is in the
 * host's page cache: this measures how much of the device model's work runs side by side, and
 * how many backend waits it overlaps, not the disk. One operation = one request. No peer: QEMU's
 * device code cannot be driven this way (bench's BlockBenchmark compares panvm and QEMU with a
 * guest).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 2, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
public class BlkDeviceBenchmark {
    static final int QD1_OPS = 500;
    static final int QD32_OPS = 4_000;
    static final int SEQ_OPS = 64;
    private static final int QUEUE_SIZE = 256;
    private static final long IMAGE = 64L << 20;
    private static final int SMALL = 4096;
    private static final int LARGE = 1 << 20;
    static final long SLOW_MICROS = 100;

    @Param({"0", "4"})
    public int ioThreads;

    @Param({"file", "slow", "null"})
    public String backend;

    private Path image;
    private BlockBackend medium;
    private SimulatedBlkDriver blk;
    private SimulatedBlkDriver.Slot[] reads4k;
    private SimulatedBlkDriver.Slot[] writes4k;
    private SimulatedBlkDriver.Slot[] reads1m;
    private SimulatedBlkDriver.Slot[] byHead;
    private final SplittableRandom random = new SplittableRandom(42);
    private long nextSequential;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        if (backend.equals("null")) {
            medium = new NullBackend(IMAGE);
        } else {
            image = Files.createTempFile("panvm-blk-bench", ".img");
            writeImage(image);
            FileBackend file = FileBackend.open(image, false);
            medium = backend.equals("slow") ? new Slow(file) : file;
        }
        blk = new SimulatedBlkDriver(medium, ioThreads, QUEUE_SIZE, 32L << 20);
        byHead = new SimulatedBlkDriver.Slot[QUEUE_SIZE];
        reads4k = slots(BlockRequest.VIRTIO_BLK_T_IN, SMALL, 32);
        writes4k = slots(BlockRequest.VIRTIO_BLK_T_OUT, SMALL, 32);
        reads1m = slots(BlockRequest.VIRTIO_BLK_T_IN, LARGE, 8);
    }

    /** A backend whose reads and writes first wait {@value #SLOW_MICROS} µs, without using a CPU meanwhile. */
    private record Slow(BlockBackend medium) implements BlockBackend {
        @Override
        public long size() {
            return medium.size();
        }

        @Override
        public boolean isReadOnly() {
            return medium.isReadOnly();
        }

        @Override
        public String deviceId() {
            return medium.deviceId();
        }

        @Override
        public long read(long offset, MemorySegment dst) throws IOException {
            LockSupport.parkNanos(SLOW_MICROS * 1000);
            return medium.read(offset, dst);
        }

        @Override
        public void write(long offset, MemorySegment src) throws IOException {
            LockSupport.parkNanos(SLOW_MICROS * 1000);
            medium.write(offset, src);
        }

        @Override
        public void flush() throws IOException {
            medium.flush();
        }

        @Override
        public void close() throws IOException {
            medium.close();
        }
    }

    /** Real data on every block, so that reads come from the page cache, not from a hole. */
    private static void writeImage(Path path) throws IOException {
        ByteBuffer chunk = ByteBuffer.allocateDirect(LARGE);
        new SplittableRandom(1).ints(LARGE / 4).forEach(chunk::putInt);
        try (FileChannel c = FileChannel.open(path, StandardOpenOption.WRITE)) {
            for (long at = 0; at < IMAGE; at += LARGE) {
                chunk.clear();
                while (chunk.hasRemaining()) {
                    c.write(chunk, at + chunk.position());
                }
            }
        }
    }

    private SimulatedBlkDriver.Slot[] slots(int type, int bytes, int count) {
        SimulatedBlkDriver.Slot[] out = new SimulatedBlkDriver.Slot[count];
        for (int i = 0; i < count; i++) {
            out[i] = blk.slot(type, bytes);
            byHead[out[i].head()] = out[i];
        }
        return out;
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        blk.close();
        medium.close();
        if (image != null) {
            Files.delete(image);
        }
    }

    private long randomSmallSector() {
        return random.nextLong(IMAGE / SMALL) * (SMALL / BlockRequest.SECTOR_SIZE);
    }

    private long nextLargeSector() {
        long sector = nextSequential;
        nextSequential = (nextSequential + LARGE / BlockRequest.SECTOR_SIZE) % (IMAGE / BlockRequest.SECTOR_SIZE);
        return sector;
    }

    @Benchmark
    @OperationsPerInvocation(QD1_OPS)
    public int randread4kQd1() {
        return run(reads4k, 1, QD1_OPS, this::randomSmallSector);
    }

    @Benchmark
    @OperationsPerInvocation(QD32_OPS)
    public int randread4kQd32() {
        return run(reads4k, 32, QD32_OPS, this::randomSmallSector);
    }

    @Benchmark
    @OperationsPerInvocation(SEQ_OPS)
    public int seqread1mQd8() {
        return run(reads1m, 8, SEQ_OPS, this::nextLargeSector);
    }

    @Benchmark
    @OperationsPerInvocation(QD32_OPS)
    public int randwrite4kQd32() {
        return run(writes4k, 32, QD32_OPS, this::randomSmallSector);
    }

    /**
     * {@code ops} requests through the first {@code depth} slots, each refilled as it comes back,
     * at sectors from {@code sectors}. The driver polls the used ring and yields between looks:
     * on a 2-core host a spinning driver would take the core the device's threads need.
     */
    private int run(SimulatedBlkDriver.Slot[] slots, int depth, int ops, LongSupplier sectors) {
        int posted = Math.min(depth, ops);
        for (int i = 0; i < posted; i++) {
            blk.post(slots[i], sectors.getAsLong());
        }
        blk.kick();
        int[] done = {0};
        int[] refill = {posted};
        while (done[0] < ops) {
            int n = blk.reap(head -> {
                SimulatedBlkDriver.Slot s = byHead[head];
                if (blk.status(s) != VirtioBlk.VIRTIO_BLK_S_OK) {
                    throw new IllegalStateException("request failed with status " + blk.status(s));
                }
                done[0]++;
                if (refill[0] < ops) {
                    blk.post(s, sectors.getAsLong());
                    refill[0]++;
                }
            });
            if (n > 0) {
                blk.kick();
            } else {
                Thread.yield();
            }
        }
        return done[0];
    }
}
