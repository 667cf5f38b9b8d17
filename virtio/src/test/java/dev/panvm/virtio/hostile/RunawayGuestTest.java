package dev.panvm.virtio.hostile;

import dev.panvm.virtio.DeviceSignals;
import dev.panvm.virtio.DeviceStatus;
import dev.panvm.virtio.FeatureBits;
import dev.panvm.virtio.LittleEndian;
import dev.panvm.virtio.SimpleGuestMemory;
import dev.panvm.virtio.VirtioDeviceBase;
import dev.panvm.virtio.blk.BlockBackend;
import dev.panvm.virtio.blk.BlockRequest;
import dev.panvm.virtio.blk.VirtioBlk;
import dev.panvm.virtio.mmio.MmioTransport;
import dev.panvm.virtio.mock.DeviceThread;
import dev.panvm.virtio.mock.GuestAllocator;
import dev.panvm.virtio.mock.MockMmioDriver;
import dev.panvm.virtio.mock.MockSplitQueue;
import dev.panvm.virtio.mock.MockSplitQueue.UsedElement;
import dev.panvm.virtio.mock.RecordingInterrupts;
import dev.panvm.virtio.net.InMemoryNetBackend;
import dev.panvm.virtio.net.VirtioNet;
import dev.panvm.virtio.net.VirtioNetHeader;
import dev.panvm.virtio.queue.BufferElement;
import dev.panvm.virtio.queue.Descriptor;
import dev.panvm.virtio.queue.Virtqueue;
import dev.panvm.virtio.queue.VirtqueuePart;
import dev.panvm.virtio.rng.EntropySource;
import dev.panvm.virtio.rng.VirtioRng;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Guests that try to keep a device busy for ever, and backends that never return: the device
 * thread must come back after a bounded amount of work, a reset (a vCPU's Status = 0 write,
 * made while holding the transport) must return within a bounded time, and teardown must
 * complete. Every test runs under assertTimeoutPreemptively, so a regression fails instead of
 * hanging the build.
 *
 * <p>The overlapping-ring guest places its used ring 2 bytes after its available ring, so
 * used.flags is avail.idx, and does not negotiate VIRTIO_F_EVENT_IDX: each time the device
 * suppresses notifications (used.flags = NO_NOTIFY) the avail idx becomes 1, each time it
 * re-enables them the avail idx becomes 0 again.
 */
class RunawayGuestTest {
    private static final long RAM = 1 << 20;
    private static final int SIZE = 16;
    private static final long VERSION_1 = FeatureBits.bit(FeatureBits.VIRTIO_F_VERSION_1);
    /** The whole of each test; generous for a loaded 2-core machine, small next to "for ever". */
    private static final Duration LIMIT = Duration.ofSeconds(30);
    /** How long a reset of a device with nothing stuck may take, at most. */
    private static final Duration QUICK = Duration.ofSeconds(3);

    // The overlapping guest's layout: fixed addresses below the mock allocator's area.
    private static final long DESC = 0x1000;
    private static final long AVAIL = 0x2002;
    private static final long USED = AVAIL + 2;     // used.flags over avail.idx; 4-byte aligned
    private static final long HEADER = 0x9000;
    private static final long DATA = 0xa000;
    private static final long STATUS = 0xb000;

    private final SimpleGuestMemory memory = SimpleGuestMemory.ofSize(RAM);
    private final GuestAllocator allocator = new GuestAllocator(0x10000, RAM);
    private final RecordingInterrupts interrupts = new RecordingInterrupts();

    @AfterEach
    void close() {
        assertEquals(0, memory.rejectedSlices(), "a device asked for memory outside guest RAM");
        memory.close();
    }

    /** The device types the review found looping: virtio-blk, virtio-rng, virtio-net's transmit queue. */
    enum Kind {
        BLK, RNG, NET_TX;

        int queue() {
            return this == NET_TX ? VirtioNet.TRANSMIT_QUEUE : 0;
        }
    }

    /** A device under test and a count of the requests it handed to its backend. */
    private record Subject(VirtioDeviceBase device, LongSupplier handled) {
    }

    private static Subject subject(Kind kind) {
        AtomicLong count = new AtomicLong();
        return switch (kind) {
            case BLK -> new Subject(new VirtioBlk(new BlockBackend() {
                public long size() { return 1 << 20; }
                public boolean isReadOnly() { return false; }
                public String deviceId() { return "runaway"; }
                public long read(long offset, MemorySegment dst) { count.incrementAndGet(); dst.fill((byte) 1); return dst.byteSize(); }
                public void write(long offset, MemorySegment src) { count.incrementAndGet(); }
                public void flush() { }
                public void close() { }
            }, SIZE), count::get);
            case RNG -> new Subject(new VirtioRng(new EntropySource() {
                public long fill(MemorySegment dst) { count.incrementAndGet(); dst.fill((byte) 2); return dst.byteSize(); }
                public void close() { }
            }, SIZE), count::get);
            case NET_TX -> {
                InMemoryNetBackend backend = InMemoryNetBackend.create();
                VirtioNet net = new VirtioNet(backend, null, SIZE);
                yield new Subject(net, () -> net.metrics().snapshot().txFrames());
            }
        };
    }

    /** Descriptor 0 (and on) holds one well-formed request for {@code kind}; avail.ring[0] (= used.idx = 0) names it. */
    private void writeRequest(Kind kind) {
        MemorySegment table = memory.slice(DESC, VirtqueuePart.DESCRIPTOR_TABLE.size(SIZE));
        switch (kind) {
            case BLK -> {
                MemorySegment h = memory.slice(HEADER, BlockRequest.HEADER_SIZE);
                LittleEndian.putU32(h, 0, BlockRequest.VIRTIO_BLK_T_IN);
                LittleEndian.putU64(h, 8, 0);
                new Descriptor(HEADER, 16, Descriptor.VIRTQ_DESC_F_NEXT, 1).write(table, 0);
                new Descriptor(DATA, 512, Descriptor.VIRTQ_DESC_F_NEXT | Descriptor.VIRTQ_DESC_F_WRITE, 2).write(table, 1);
                new Descriptor(STATUS, 1, Descriptor.VIRTQ_DESC_F_WRITE, 0).write(table, 2);
            }
            case RNG -> new Descriptor(DATA, 64, Descriptor.VIRTQ_DESC_F_WRITE, 0).write(table, 0);
            // A zero header (no GSO) and a 60-byte frame.
            case NET_TX -> new Descriptor(HEADER, VirtioNetHeader.SIZE + 60, 0, 0).write(table, 0);
        }
    }

    /** Signals as the transport's, straight to the test: requeues wake the device thread. */
    private static final class Signals implements DeviceSignals {
        final AtomicInteger needsReset = new AtomicInteger();
        final AtomicInteger usedBuffers = new AtomicInteger();
        volatile DeviceThread thread;

        public void usedBuffers(int queueIndex) {
            usedBuffers.incrementAndGet();
        }

        public void configChanged() {
        }

        public void needsReset() {
            needsReset.incrementAndGet();
        }

        public void requeue(int queueIndex) {
            thread.wake(queueIndex);
        }
    }

    private static void await(String what, java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "timed out waiting until " + what);
            Thread.sleep(1);
        }
    }

    private static Duration timed(Runnable r) {
        long t0 = System.nanoTime();
        r.run();
        return Duration.ofNanos(System.nanoTime() - t0);
    }

    /**
     * The transport refuses the overlapping rings at DRIVER_OK (2.7: each part has one writer,
     * the used ring's is the device): DEVICE_NEEDS_RESET, the device never runs, the reset and
     * teardown are immediate.
     */
    @ParameterizedTest
    @EnumSource(Kind.class)
    void theTransportRefusesAUsedRingOverTheAvailableRing(Kind kind) {
        assertTimeoutPreemptively(LIMIT, () -> {
            Subject s = subject(kind);
            DeviceThread thread = new DeviceThread(s.device());
            MmioTransport transport = new MmioTransport(s.device(), memory, interrupts, thread.notifier());
            MockMmioDriver driver = new MockMmioDriver(transport, memory, allocator);
            writeRequest(kind);
            assertTrue(driver.negotiate(VERSION_1));
            for (int q = 0; q < transport.queues().size(); q++) {
                if (q == kind.queue()) {
                    driver.setupQueue(q, SIZE, DESC, AVAIL, USED);
                } else {
                    driver.setupQueue(q, SIZE);
                }
            }
            driver.driverOk();
            assertNotEquals(0, driver.status() & DeviceStatus.DEVICE_NEEDS_RESET);
            assertFalse(transport.isActivated());
            assertFalse(s.device().isActive());
            driver.kick(kind.queue());
            assertTrue(thread.awaitIdle(QUICK));
            assertEquals(0, s.handled().getAsLong());

            assertTrue(timed(() -> driver.setStatus(0)).compareTo(QUICK) < 0);
            assertEquals(0, driver.status());
            assertTrue(thread.stop(QUICK), "teardown");
            assertEquals(0, transport.internalErrors());
            assertEquals(0, s.device().internalErrors());
        });
    }

    /**
     * The same rings handed to the device directly, as rings the transport cannot check would
     * reach it (another device's rings, buffers over rings): the device thread handles the one
     * request, finds the avail idx gone backwards when it re-enables notifications, and fails
     * the device (DEVICE_NEEDS_RESET) instead of spinning; the reset and teardown complete.
     */
    @ParameterizedTest
    @EnumSource(Kind.class)
    void overlappingRingsThatGetPastTheTransportCannotPinTheDeviceThread(Kind kind) {
        assertTimeoutPreemptively(LIMIT, () -> {
            Subject s = subject(kind);
            VirtioDeviceBase device = s.device();
            Signals signals = new Signals();
            DeviceThread thread = new DeviceThread(device, s.handled());
            signals.thread = thread;
            writeRequest(kind);
            List<Virtqueue> queues = new ArrayList<>();
            for (int q = 0; q < device.queueCount(); q++) {
                Virtqueue v = new Virtqueue(SIZE);
                if (q == kind.queue()) {
                    v.setSize(SIZE);
                    v.setDescriptorTableAddress(DESC);
                    v.setAvailableRingAddress(AVAIL);
                    v.setUsedRingAddress(USED);
                    v.setReady(true);
                    assertTrue(v.activate(memory, VERSION_1).isEmpty());
                }
                queues.add(v);
            }
            assertTrue(Virtqueue.findOverlap(queues).isPresent(), "what the transport would have refused");
            device.activate(VERSION_1, queues, memory, signals);

            thread.wake(kind.queue());      // the guest's kick
            await("the device asks for a reset", () -> signals.needsReset.get() > 0);
            await("the request reaches the backend (on an I/O thread, for virtio-blk)", () -> s.handled().getAsLong() > 0);
            assertTrue(thread.awaitIdle(QUICK), "the device thread is back asleep");
            assertTrue(device.hasFailed());
            long handled = s.handled().getAsLong();
            assertTrue(handled >= 1 && handled <= VirtioDeviceBase.DRAIN_BUDGET, handled + " requests");
            assertTrue(thread.maxWorkPerPass() <= VirtioDeviceBase.DRAIN_BUDGET);

            // A vCPU resets the device: it does not wait for a device thread that never ends.
            assertTrue(timed(device::reset).compareTo(QUICK) < 0);
            assertFalse(device.isActive());
            assertFalse(device.isBroken());
            assertTrue(thread.stop(QUICK), "teardown");
            assertEquals(0, device.internalErrors());
        });
    }

    /**
     * A driver (on its own vCPU) that keeps the ring full for ever: each pass of the device
     * thread handles at most the budget, then requeues, so a reset from another vCPU gets the
     * device between two passes.
     */
    @Test
    void aDriverThatKeepsTheRingFullCannotHoldOffAReset() {
        assertTimeoutPreemptively(LIMIT, () -> {
            AtomicLong fills = new AtomicLong();
            VirtioRng rng = new VirtioRng(new EntropySource() {
                public long fill(MemorySegment dst) { fills.incrementAndGet(); return dst.byteSize(); }
                public void close() { }
            }, 256);
            DeviceThread thread = new DeviceThread(rng, fills::get);
            MmioTransport transport = new MmioTransport(rng, memory, interrupts, thread.notifier());
            MockMmioDriver guest = new MockMmioDriver(transport, memory, allocator);
            MockMmioDriver otherVcpu = new MockMmioDriver(transport, memory, allocator);
            MockSplitQueue q = guest.initialize(VERSION_1, 256).getFirst();
            BufferElement buffer = q.writable(16);

            AtomicBoolean flooding = new AtomicBoolean(true);
            Thread driver = Thread.ofPlatform().daemon(true).start(() -> {
                int inFlight = 0;
                while (flooding.get()) {
                    inFlight -= q.takeUsed().size();
                    int before = q.availIdx();
                    while (inFlight < 256) {
                        q.addChain(List.of(buffer));
                        inFlight++;
                    }
                    if (q.availIdx() != before && q.needsKick(before, false)) {
                        guest.kick(0);
                    }
                    Thread.onSpinWait();
                }
            });
            await("several budgets' worth of requests", () -> fills.get() > 8L * VirtioDeviceBase.DRAIN_BUDGET);

            Duration reset = timed(() -> otherVcpu.setStatus(0));
            assertTrue(reset.compareTo(QUICK) < 0, "reset took " + reset);
            assertEquals(0, otherVcpu.status());
            assertFalse(rng.isActive());
            assertFalse(rng.isBroken(), "nothing was stuck: the reset got the device between two passes");
            flooding.set(false);
            driver.join(QUICK);
            assertTrue(thread.maxWorkPerPass() <= VirtioDeviceBase.DRAIN_BUDGET,
                    thread.maxWorkPerPass() + " requests in one pass");
            assertTrue(thread.stop(QUICK), "teardown");
            assertEquals(0, rng.internalErrors());
            assertEquals(0, transport.internalErrors());
        });
    }

    /** Without a device thread (the direct notifier), requeued passes run after the one that asked. */
    @Test
    void aRingLargerThanTheBudgetIsServedInSeveralPassesOfOneKick() {
        assertTimeoutPreemptively(LIMIT, () -> {
            VirtioRng rng = new VirtioRng(new EntropySource() {
                public long fill(MemorySegment dst) { return dst.byteSize(); }
                public void close() { }
            }, 1024);
            MockMmioDriver driver = new MockMmioDriver(new MmioTransport(rng, memory, interrupts), memory, allocator);
            MockSplitQueue q = driver.initialize(VERSION_1, 1024).getFirst();
            BufferElement buffer = q.writable(8);
            for (int i = 0; i < 1000; i++) {
                q.addChain(List.of(buffer));
            }
            interrupts.take();
            driver.kick(0);
            List<UsedElement> used = q.takeUsed();
            assertEquals(1000, used.size());
            // One used buffer notification per pass: 256 + 256 + 256 + 232.
            assertEquals(4, interrupts.take());
            assertEquals(0, q.usedFlags(), "notifications are enabled again once the ring is empty");
            assertTrue(rng.isActive());
        });
    }

    /**
     * A block backend whose read never returns (a hung NFS server, a dead disk), on the device
     * thread or on an I/O thread: the reset returns after its bound, the device is broken
     * (re-activation refused, without another wait) until the read returns, and the abandoned
     * request then touches neither the old rings nor the status byte nor the interrupt; after
     * that a reset brings the device back.
     */
    @ParameterizedTest(name = "{0} I/O threads")
    @ValueSource(ints = {0, 4})
    void aResetWhileTheBlockBackendHangsCompletesWithinItsBound(int ioThreads) {
        assertTimeoutPreemptively(LIMIT, () -> {
            CountDownLatch entered = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            AtomicBoolean hang = new AtomicBoolean(true);
            BlockBackend hanging = new BlockBackend() {
                public long size() { return 1 << 20; }
                public boolean isReadOnly() { return false; }
                public String deviceId() { return "hung"; }
                public long read(long offset, MemorySegment dst) throws IOException {
                    if (hang.get()) {
                        entered.countDown();
                        try {
                            release.await();
                        } catch (InterruptedException e) {
                            throw new IOException(e);
                        }
                    }
                    dst.fill((byte) 0x11);
                    return dst.byteSize();
                }
                public void write(long offset, MemorySegment src) { }
                public void flush() { }
                public void close() { }
            };
            VirtioBlk blk = new VirtioBlk(hanging, SIZE, ioThreads);
            Duration bound = Duration.ofSeconds(1);
            blk.setResetTimeout(bound);
            DeviceThread thread = new DeviceThread(blk);
            MmioTransport transport = new MmioTransport(blk, memory, interrupts, thread.notifier());
            MockMmioDriver guest = new MockMmioDriver(transport, memory, allocator);
            MockMmioDriver vcpu = new MockMmioDriver(transport, memory, allocator);
            MockSplitQueue q = guest.initialize(-1L, SIZE).getFirst();
            // Two reads, so that with I/O threads they go to them rather than run on the
            // device thread as a read alone would.
            List<BufferElement> statuses = List.of(q.writable(1), q.writable(1));
            for (BufferElement status : statuses) {
                memory.slice(status.address(), 1).fill((byte) 0x55);
                q.addChain(List.of(readHeader(q), q.writable(512), status));
            }
            guest.kick(0);
            assertTrue(entered.await(10, TimeUnit.SECONDS));
            int inFlight = ioThreads == 0 ? 0 : 2;
            await("the reads are in flight", () -> blk.requestsInFlight() == inFlight);

            Duration first = timed(() -> vcpu.setStatus(0));
            assertTrue(first.compareTo(bound.plus(QUICK)) < 0, "reset took " + first);
            assertEquals(0, vcpu.status(), "the reset completed");
            assertTrue(blk.isBroken());
            assertEquals(1, blk.abandonedResets());
            Duration second = timed(() -> vcpu.setStatus(0));
            assertTrue(second.compareTo(bound.dividedBy(2)) < 0, "a second reset waited again: " + second);

            // The driver sets the device up again: refused while the read is stuck.
            assertTrue(vcpu.negotiate(-1L & vcpu.deviceFeatures()));
            vcpu.setupQueue(0, SIZE);
            vcpu.driverOk();
            assertNotEquals(0, vcpu.status() & DeviceStatus.DEVICE_NEEDS_RESET);
            assertFalse(transport.isActivated());

            // The read returns: nothing of it reaches the guest any more.
            int interruptsBefore = interrupts.count();
            hang.set(false);
            release.countDown();
            assertTrue(thread.awaitIdle(QUICK));
            await("the read returns", () -> blk.requestsInFlight() == 0);
            assertEquals(0, q.usedIdx(), "no used ring entry for the abandoned requests");
            for (BufferElement status : statuses) {
                assertEquals(0x55, memory.slice(status.address(), 1).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE)[0] & 0xff,
                        "no status byte for the abandoned requests");
            }
            assertEquals(interruptsBefore, interrupts.count(), "no interrupt for the abandoned requests");

            // And a reset brings the device back.
            assertTrue(timed(() -> vcpu.setStatus(0)).compareTo(QUICK) < 0);
            assertFalse(blk.isBroken());
            MockSplitQueue q2 = vcpu.initialize(-1L, SIZE).getFirst();
            BufferElement status2 = q2.writable(1);
            q2.addChain(List.of(readHeader(q2), q2.writable(512), status2));
            vcpu.kick(0);
            await("the new request completes", q2::hasNewUsed);
            assertEquals(List.of(new UsedElement(0, 513)), q2.takeUsed());
            assertEquals(VirtioBlk.VIRTIO_BLK_S_OK, q2.contents(status2)[0]);
            assertTrue(blk.shutdown(), "teardown: nothing left in the backend");
            assertTrue(thread.stop(QUICK), "teardown");
            assertEquals(0, blk.internalErrors());
            assertEquals(0, transport.internalErrors());
        });
    }

    /**
     * An entropy source that blocks: the reset returns after its bound; teardown's join, bounded
     * too, gives up on the stuck thread rather than hanging, and the thread ends once the
     * source returns.
     */
    @Test
    void aResetWhileTheEntropySourceHangsCompletesWithinItsBound() {
        assertTimeoutPreemptively(LIMIT, () -> {
            CountDownLatch entered = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            VirtioRng rng = new VirtioRng(new EntropySource() {
                public long fill(MemorySegment dst) throws IOException {
                    entered.countDown();
                    try {
                        release.await();
                    } catch (InterruptedException e) {
                        throw new IOException(e);
                    }
                    return dst.byteSize();
                }
                public void close() { }
            }, SIZE);
            Duration bound = Duration.ofMillis(300);
            rng.setResetTimeout(bound);
            DeviceThread thread = new DeviceThread(rng);
            MmioTransport transport = new MmioTransport(rng, memory, interrupts, thread.notifier());
            MockMmioDriver guest = new MockMmioDriver(transport, memory, allocator);
            MockMmioDriver vcpu = new MockMmioDriver(transport, memory, allocator);
            MockSplitQueue q = guest.initialize(VERSION_1, SIZE).getFirst();
            q.addChain(List.of(q.writable(32)));
            guest.kick(0);
            assertTrue(entered.await(10, TimeUnit.SECONDS));

            Duration reset = timed(() -> vcpu.setStatus(0));
            assertTrue(reset.compareTo(bound.plus(QUICK)) < 0, "reset took " + reset);
            assertEquals(0, vcpu.status());
            assertTrue(rng.isBroken());
            assertFalse(thread.stop(Duration.ofMillis(200)), "the thread is still in the source");

            release.countDown();
            assertTrue(thread.stop(QUICK), "the thread ends once the source returns");
            assertEquals(0, q.usedIdx(), "no used ring entry for the abandoned request");
            assertEquals(0, rng.internalErrors());
        });
    }

    private BufferElement readHeader(MockSplitQueue q) {
        byte[] h = new byte[BlockRequest.HEADER_SIZE];
        LittleEndian.putU32(MemorySegment.ofArray(h), 0, BlockRequest.VIRTIO_BLK_T_IN);
        return q.readable(h);
    }
}
