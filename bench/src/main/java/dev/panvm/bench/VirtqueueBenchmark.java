package dev.panvm.bench;

import dev.panvm.virtio.FeatureBits;
import dev.panvm.virtio.LittleEndian;
import dev.panvm.virtio.SimpleGuestMemory;
import dev.panvm.virtio.blk.BlockRequest;
import dev.panvm.virtio.blk.NullBackend;
import dev.panvm.virtio.blk.VirtioBlk;
import dev.panvm.virtio.mmio.MmioTransport;
import dev.panvm.virtio.mock.GuestAllocator;
import dev.panvm.virtio.mock.MockMmioDriver;
import dev.panvm.virtio.mock.MockSplitQueue;
import dev.panvm.virtio.queue.BufferElement;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * panvm's virtqueue processing without KVM: the mock driver (virtio's test utilities, after
 * rust-vmm's MockSplitQueue) keeps {@value #BATCH} virtio-blk read requests (header, 4 KiB
 * buffer, status; direct descriptors, built once and made available again each time, as a
 * driver recycles them) in a 256-entry queue; one notification, and the device (a media-less
 * backend) takes every chain, checks it, parses the request and returns it through the used
 * ring. One operation = one request. No peer: QEMU's device code cannot be driven this way.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class VirtqueueBenchmark {
    static final int BATCH = 64;
    private static final int QUEUE_SIZE = 256;

    private static final long RAM = 4 << 20;

    private final SimpleGuestMemory memory = SimpleGuestMemory.ofSize(RAM);
    private MockMmioDriver driver;
    private MockSplitQueue queue;
    private VirtioBlk device;
    private final int[] heads = new int[BATCH];

    @Setup(Level.Trial)
    public void setUp() {
        GuestAllocator allocator = new GuestAllocator(0x1000, RAM);
        device = new VirtioBlk(new NullBackend(1L << 30), QUEUE_SIZE);
        driver = new MockMmioDriver(new MmioTransport(device, memory, bits -> { }), memory, allocator);
        queue = driver.initialize(FeatureBits.TRANSPORT_FEATURES, QUEUE_SIZE).getFirst();
        for (int i = 0; i < BATCH; i++) {
            byte[] header = new byte[16];
            MemorySegment h = MemorySegment.ofArray(header);
            LittleEndian.putU32(h, 0, BlockRequest.VIRTIO_BLK_T_IN);
            LittleEndian.putU64(h, 8, 8L * i);
            List<BufferElement> chain = List.of(queue.readable(header), queue.writable(4096), queue.writable(1));
            heads[i] = queue.buildChain(chain);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (device.internalErrors() != 0 || device.hasFailed()) {
            throw new IllegalStateException("the device failed during the benchmark");
        }
        memory.close();
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public int requests() {
        int before = queue.usedIdx();
        for (int head : heads) {
            queue.publish(head);
        }
        driver.kick(0);
        int done = (queue.usedIdx() - before) & 0xffff;
        if (done != BATCH) {
            throw new IllegalStateException(done + " of " + BATCH + " requests completed");
        }
        return done;
    }
}
