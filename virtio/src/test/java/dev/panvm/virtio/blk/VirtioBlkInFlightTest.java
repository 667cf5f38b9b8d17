package dev.panvm.virtio.blk;

import dev.panvm.virtio.FeatureBits;
import dev.panvm.virtio.LittleEndian;
import dev.panvm.virtio.SimpleGuestMemory;
import dev.panvm.virtio.mmio.MmioTransport;
import dev.panvm.virtio.mmio.QueueNotifier;
import dev.panvm.virtio.mock.DeviceThread;
import dev.panvm.virtio.mock.GuestAllocator;
import dev.panvm.virtio.mock.ManualExecutor;
import dev.panvm.virtio.mock.MockMmioDriver;
import dev.panvm.virtio.mock.MockSplitQueue;
import dev.panvm.virtio.mock.MockSplitQueue.UsedElement;
import dev.panvm.virtio.mock.RecordingInterrupts;
import dev.panvm.virtio.queue.BufferElement;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

import static dev.panvm.virtio.blk.BlockRequest.VIRTIO_BLK_T_FLUSH;
import static dev.panvm.virtio.blk.BlockRequest.VIRTIO_BLK_T_IN;
import static dev.panvm.virtio.blk.BlockRequest.VIRTIO_BLK_T_OUT;
import static dev.panvm.virtio.blk.VirtioBlk.VIRTIO_BLK_S_IOERR;
import static dev.panvm.virtio.blk.VirtioBlk.VIRTIO_BLK_S_OK;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Several requests in flight on the device's I/O threads (or on a {@link ManualExecutor}, for
 * the orders threads would only produce by chance): they complete with their own data and
 * status, in any order; a FLUSH starts only after the requests submitted before it; a backend
 * error fails its request alone; a reset waits for requests in flight and keeps their results
 * out of the driver's memory; shutdown ends the threads.
 */
class VirtioBlkInFlightTest {
    private static final int SIZE = 256;
    private static final int BLOCK = 4096;
    private static final long RAM = 16 << 20;
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final Duration LIMIT = Duration.ofSeconds(60);

    private final SimpleGuestMemory memory = SimpleGuestMemory.ofSize(RAM);
    private final GuestAllocator allocator = new GuestAllocator(0x1000, RAM);
    private final RecordingInterrupts interrupts = new RecordingInterrupts();
    private final MemoryBackend backend = new MemoryBackend(8 << 20, "inflight");
    private VirtioBlk blk;
    private MockMmioDriver driver;
    private MockSplitQueue queue;
    private int returned;

    @AfterEach
    void close() {
        if (blk != null) {
            assertTrue(blk.shutdown(), "requests still running at shutdown");
            assertEquals(0, blk.internalErrors());
        }
        assertEquals(0, memory.rejectedSlices(), "the device asked for memory outside guest RAM");
        memory.close();
        backend.close();
    }

    private void start(VirtioBlk device, QueueNotifier notifier) {
        blk = device;
        MmioTransport transport = notifier == null ? new MmioTransport(blk, memory, interrupts)
                : new MmioTransport(blk, memory, interrupts, notifier);
        driver = new MockMmioDriver(transport, memory, allocator);
        queue = driver.initialize(FeatureBits.TRANSPORT_FEATURES | FeatureBits.bit(VirtioBlk.VIRTIO_BLK_F_FLUSH),
                SIZE).getFirst();
    }

    /** A request as the driver posts it: its chain's head, sector, data buffer (or null) and status byte. */
    private record Request(int head, long sector, BufferElement data, BufferElement status) {
    }

    private BufferElement header(long type, long sector) {
        byte[] h = new byte[BlockRequest.HEADER_SIZE];
        LittleEndian.putU32(MemorySegment.ofArray(h), 0, type);
        LittleEndian.putU64(MemorySegment.ofArray(h), 8, sector);
        return queue.readable(h);
    }

    private Request read(long sector) {
        BufferElement data = queue.writable(BLOCK);
        BufferElement status = queue.writable(1);
        int head = queue.addChain(List.of(header(VIRTIO_BLK_T_IN, sector), data, status));
        return new Request(head, sector, data, status);
    }

    private Request write(long sector, byte fill) {
        byte[] bytes = new byte[BLOCK];
        Arrays.fill(bytes, fill);
        BufferElement data = queue.readable(bytes);
        BufferElement status = queue.writable(1);
        int head = queue.addChain(List.of(header(VIRTIO_BLK_T_OUT, sector), data, status));
        return new Request(head, sector, data, status);
    }

    private Request flush() {
        BufferElement status = queue.writable(1);
        return new Request(queue.addChain(List.of(header(VIRTIO_BLK_T_FLUSH, 0), status)), 0, null, status);
    }

    private int status(Request r) {
        return queue.contents(r.status())[0];
    }

    private byte[] onDisk(long sector) {
        return backend.contents(sector * 512, BLOCK);
    }

    private static byte[] filled(int value) {
        byte[] b = new byte[BLOCK];
        Arrays.fill(b, (byte) value);
        return b;
    }

    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "timed out waiting until " + what);
            Thread.sleep(1);
        }
    }

    /**
     * 72 reads and writes in one kick on four I/O threads. The first four reads wait until all
     * four are in the backend at once (so one at a time would fail them); every request comes
     * back with its own status and data.
     */
    @Test
    void requestsRunSideBySideAndEachCompletesWithItsOwnDataAndStatus() {
        assertTimeoutPreemptively(LIMIT, () -> {
            CountDownLatch together = new CountDownLatch(4);
            backend.setHook((op, offset, length) -> {
                if (op.equals("read") && offset < 4L * 8 * 512) {
                    together.countDown();
                    try {
                        if (!together.await(WAIT.toSeconds(), TimeUnit.SECONDS)) {
                            throw new IOException("the first reads ran one at a time");
                        }
                    } catch (InterruptedException e) {
                        throw new IOException(e);
                    }
                }
            });
            start(new VirtioBlk(backend, SIZE, 4), null);
            Map<Integer, Request> posted = new HashMap<>();
            for (int i = 0; i < 48; i++) {
                Request r = read(8L * i);
                posted.put(r.head(), r);
                if (i % 2 == 1) {
                    Request w = write(4096 + 8L * i, (byte) i);
                    posted.put(w.head(), w);
                }
            }
            driver.kick(0);
            List<UsedElement> used = queue.awaitUsed(72, WAIT);
            assertEquals(72, used.size());
            for (UsedElement u : used) {
                Request r = posted.remove(u.id());
                assertEquals(VIRTIO_BLK_S_OK, status(r), "request at sector " + r.sector());
                if (r.sector() < 4096) {
                    assertEquals(BLOCK + 1, u.length());
                    assertArrayEquals(onDisk(r.sector()), queue.contents(r.data()));
                } else {
                    assertEquals(1, u.length());
                    assertArrayEquals(filled((int) (r.sector() - 4096) / 8), onDisk(r.sector()));
                }
            }
            assertTrue(posted.isEmpty());
            assertTrue(blk.isActive());
        });
    }

    /**
     * Eight reads finished newest first: each reaches the used ring as it finishes, with its
     * own data, and the driver, asking for an interrupt at the next used entry each time
     * (used_event, 2.7.7), gets one for each.
     */
    @Test
    void completionsReachTheUsedRingInTheOrderTheyFinish() {
        ManualExecutor io = new ManualExecutor();
        start(new VirtioBlk(backend, SIZE, io), null);
        List<Request> reads = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            reads.add(read(100 + 8L * i));
        }
        interrupts.take();
        driver.kick(0);
        assertEquals(8, io.pending());
        assertEquals(List.of(), queue.takeUsed(), "nothing finished yet");
        for (int i = 7; i >= 0; i--) {
            io.runNewest();
            Request r = reads.get(i);
            assertEquals(List.of(new UsedElement(r.head(), BLOCK + 1)), queue.takeUsed());
            queue.setUsedEvent(queue.lastSeenUsed());
            assertEquals(VIRTIO_BLK_S_OK, status(r));
            assertArrayEquals(onDisk(r.sector()), queue.contents(r.data()));
        }
        assertEquals(8, interrupts.take());
        assertEquals(0, blk.requestsInFlight());
    }

    /**
     * Sixteen reads whose backend calls all finish while the device still holds the queue (an
     * executor that runs them as they are submitted, inside the drain pass): one used buffer
     * notification for the lot, without EVENT_IDX, where finishing them one by one with the
     * device idle would have sent sixteen.
     */
    @Test
    void completionsThatFinishDuringAPassGoOutWithOneNotification() {
        blk = new VirtioBlk(backend, SIZE, Runnable::run);
        driver = new MockMmioDriver(new MmioTransport(blk, memory, interrupts), memory, allocator);
        queue = driver.initialize(FeatureBits.bit(FeatureBits.VIRTIO_F_VERSION_1), SIZE).getFirst();
        for (int i = 0; i < 16; i++) {
            read(8L * i);
        }
        interrupts.take();
        driver.kick(0);
        assertEquals(16, queue.takeUsed().size());
        assertEquals(1, interrupts.take());
    }

    /**
     * Writes W0 W1 W2, FLUSH A, W3, FLUSH B in one kick; the executor runs what it is given in
     * the order the test picks. A waits for W0-W2 (not for W3, which finishes first), B for A
     * and W3; each flush reaches the backend after the writes before it.
     */
    @Test
    void aFlushStartsAfterTheRequestsSubmittedBeforeItAndOnlyThose() {
        ManualExecutor io = new ManualExecutor();
        List<String> calls = Collections.synchronizedList(new ArrayList<>());
        backend.setHook((op, offset, length) -> calls.add(op.equals("flush") ? "flush" : op + " " + offset / 512));
        start(new VirtioBlk(backend, SIZE, io), null);
        Request w0 = write(0, (byte) 1);
        Request w1 = write(8, (byte) 2);
        Request w2 = write(16, (byte) 3);
        Request a = flush();
        Request w3 = write(24, (byte) 4);
        Request b = flush();
        driver.kick(0);
        assertEquals(4, io.pending(), "the writes; both flushes wait");

        io.runNewest();                                  // W3
        assertEquals(List.of(new UsedElement(w3.head(), 1)), queue.takeUsed());
        assertEquals(3, io.pending(), "B waits for A, not only for W3");
        io.run(1);                                       // W1
        io.run(0);                                       // W0
        assertEquals(1, io.pending(), "A still waits for W2");
        io.run(0);                                       // W2: A starts
        assertEquals(1, io.pending());
        assertEquals(List.of(w1.head(), w0.head(), w2.head()), queue.takeUsed().stream().map(UsedElement::id).toList());
        io.run(0);                                       // A: B starts
        assertEquals(List.of(new UsedElement(a.head(), 1)), queue.takeUsed());
        io.run(0);                                       // B
        assertEquals(List.of(new UsedElement(b.head(), 1)), queue.takeUsed());
        assertEquals(0, io.pending());

        assertEquals(List.of("write 24", "write 8", "write 0", "write 16", "flush", "flush"), calls);
        for (Request r : List.of(w0, w1, w2, w3, a, b)) {
            assertEquals(VIRTIO_BLK_S_OK, status(r));
        }
        assertEquals(2, blk.metrics().snapshot().flushes());
    }

    /**
     * On four I/O threads behind a device thread, 300 writes that take random time with flushes
     * among them, made available in batches: every flush reaches the backend after every write
     * made available before it has finished.
     */
    @Test
    void flushesNeverOvertakeEarlierWritesOnIoThreads() {
        assertTimeoutPreemptively(LIMIT, () -> {
            AtomicInteger clock = new AtomicInteger();
            Map<Long, Integer> writeFinished = new ConcurrentHashMap<>();
            List<Integer> flushStarted = Collections.synchronizedList(new ArrayList<>());
            backend.setHook(new MemoryBackend.Hook() {
                @Override
                public void before(String op, long offset, long length) throws IOException {
                    if (op.equals("flush")) {
                        flushStarted.add(clock.incrementAndGet());
                    } else {
                        sleepMicros(offset / 512 % 7 * 50);
                    }
                }

                @Override
                public void after(String op, long offset, long length) {
                    if (op.equals("write")) {
                        writeFinished.put(offset / 512, clock.incrementAndGet());
                    }
                }
            });
            VirtioBlk device = new VirtioBlk(backend, SIZE, 4);
            DeviceThread thread = new DeviceThread(device);
            start(device, thread.notifier());
            SplittableRandom random = new SplittableRandom(12);
            List<Request> posted = new ArrayList<>();
            int writes = 0;
            while (writes < 300) {
                for (int n = random.nextInt(1, 12); n > 0; n--) {
                    if (random.nextInt(6) == 0) {
                        posted.add(flush());
                    } else {
                        posted.add(write(8L * writes++, (byte) 9));
                    }
                }
                driver.kick(0);
                // Room for the next batch, as a driver waits for free descriptors.
                while (posted.size() - returned() > SIZE / 3 - 12) {
                    Thread.yield();
                }
            }
            await("every request comes back", () -> returned() == posted.size());
            assertTrue(thread.stop(WAIT));

            List<Long> before = new ArrayList<>();
            int flushes = 0;
            for (Request r : posted) {
                assertEquals(VIRTIO_BLK_S_OK, status(r));
                if (r.data() != null) {
                    before.add(r.sector());
                    continue;
                }
                int started = flushStarted.get(flushes++);
                for (long sector : before) {
                    assertTrue(writeFinished.get(sector) < started,
                            "flush " + flushes + " started before the write to sector " + sector + " finished");
                }
            }
            assertEquals(flushes, flushStarted.size());
            assertTrue(flushes > 10, flushes + " flushes");
        });
    }

    /**
     * A backend that fails every request at a sector divisible by 3 (EIO on reads, ENOSPC on
     * writes, as a full host disk): those requests, and only those, get VIRTIO_BLK_S_IOERR, and
     * the device serves the requests after them.
     */
    @Test
    void backendErrorsFailTheirOwnRequestsAndTheDeviceGoesOn() {
        assertTimeoutPreemptively(LIMIT, () -> {
            AtomicBoolean failing = new AtomicBoolean(true);
            backend.setHook((op, offset, length) -> {
                if (failing.get() && !op.equals("flush") && offset / 512 % 3 == 0) {
                    throw new IOException(op.equals("read") ? "EIO" : "No space left on device");
                }
            });
            start(new VirtioBlk(backend, SIZE, 4), null);
            Map<Integer, Request> posted = new HashMap<>();
            for (int i = 0; i < 40; i++) {
                Request r = i % 2 == 0 ? read(i) : write(1000 + i, (byte) i);
                posted.put(r.head(), r);
            }
            driver.kick(0);
            int failed = 0;
            for (UsedElement u : queue.awaitUsed(40, WAIT)) {
                Request r = posted.get(u.id());
                boolean fails = r.sector() % 3 == 0;
                failed += fails ? 1 : 0;
                assertEquals(fails ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK, status(r), "sector " + r.sector());
                if (!fails && r.data().writable()) {
                    assertArrayEquals(onDisk(r.sector()), queue.contents(r.data()));
                }
            }
            assertEquals(failed, blk.metrics().snapshot().backendErrors());
            assertTrue(blk.isActive());

            failing.set(false);
            Request again = read(0);
            driver.kick(0);
            queue.awaitUsed(1, WAIT);
            assertEquals(VIRTIO_BLK_S_OK, status(again));
            assertArrayEquals(onDisk(0), queue.contents(again.data()));
        });
    }

    /**
     * A reset (from a vCPU) while three reads are in their backend on I/O threads: it waits for
     * them (they return within its bound), and they write neither a status byte nor a used ring
     * entry nor an interrupt into the setup the reset ended. The device is not broken and
     * serves a new setup.
     */
    @Test
    void aResetWaitsForRequestsInFlightAndTheirResultsGoNowhere() {
        assertTimeoutPreemptively(LIMIT, () -> {
            CountDownLatch inBackend = new CountDownLatch(3);
            CountDownLatch release = new CountDownLatch(1);
            AtomicBoolean hold = new AtomicBoolean(true);
            backend.setHook((op, offset, length) -> {
                if (hold.get()) {
                    inBackend.countDown();
                    try {
                        release.await();
                    } catch (InterruptedException e) {
                        throw new IOException(e);
                    }
                }
            });
            start(new VirtioBlk(backend, SIZE, 4), null);
            List<Request> reads = List.of(read(0), read(8), read(16));
            for (Request r : reads) {
                memory.slice(r.status().address(), 1).fill((byte) 0x55);
            }
            driver.kick(0);
            assertTrue(inBackend.await(WAIT.toSeconds(), TimeUnit.SECONDS));
            assertEquals(3, blk.requestsInFlight());
            int interruptsBefore = interrupts.count();

            Thread vcpu = Thread.ofPlatform().start(() -> driver.setStatus(0));
            Thread.sleep(100);
            assertTrue(vcpu.isAlive(), "the reset waits for the requests in flight");
            hold.set(false);
            release.countDown();
            vcpu.join();
            assertEquals(0, blk.requestsInFlight());
            assertFalse(blk.isBroken());
            assertEquals(0, queue.usedIdx(), "no used ring entry");
            for (Request r : reads) {
                assertEquals(0x55, queue.contents(r.status())[0] & 0xff, "no status byte");
            }
            assertEquals(interruptsBefore, interrupts.count(), "no interrupt");

            queue = driver.initialize(FeatureBits.TRANSPORT_FEATURES, SIZE).getFirst();
            Request r = read(24);
            driver.kick(0);
            queue.awaitUsed(1, WAIT);
            assertEquals(VIRTIO_BLK_S_OK, status(r));
        });
    }

    /**
     * A driver that makes one chain available again and again without waiting for it (no
     * real driver can: each chain in flight holds a descriptor): the device keeps at most the
     * queue size in flight, and takes the rest as the backend returns earlier ones.
     */
    @Test
    void requestsInFlightAreBoundedByTheQueueSize() {
        ManualExecutor io = new ManualExecutor();
        blk = new VirtioBlk(backend, 8, io);
        driver = new MockMmioDriver(new MmioTransport(blk, memory, interrupts), memory, allocator);
        queue = driver.initialize(FeatureBits.TRANSPORT_FEATURES, 8).getFirst();
        Request r = read(0);
        for (int i = 0; i < 7; i++) {
            queue.publish(r.head());
        }
        driver.kick(0);
        assertEquals(8, io.pending());
        for (int i = 0; i < 8; i++) {
            queue.publish(r.head());
        }
        driver.kick(0);
        assertEquals(8, io.pending(), "none taken beyond the queue size");
        io.run(0);
        driver.kick(0);
        assertEquals(8, io.pending(), "one more taken once one came back");
        while (io.pending() > 0) {
            io.runAll();
            driver.kick(0);
        }
        assertEquals(16, queue.usedIdx(), "every request came back");
        assertEquals(0, blk.requestsInFlight());
    }

    /** Shutdown ends the device's I/O threads, and nothing is left in flight. */
    @Test
    void shutdownEndsTheIoThreads() {
        assertTimeoutPreemptively(LIMIT, () -> {
            MemoryBackend own = new MemoryBackend(1 << 20, "shutdown-test");
            VirtioBlk device = new VirtioBlk(own, SIZE, 4);
            start(device, null);
            for (int i = 0; i < 16; i++) {
                read(8L * i);
            }
            driver.kick(0);
            queue.awaitUsed(16, WAIT);
            assertTrue(ioThreads("shutdown-test") > 0);
            assertTrue(device.shutdown());
            await("the I/O threads end", () -> ioThreads("shutdown-test") == 0);
            // The device still works, on the queue's thread.
            Request r = read(0);
            driver.kick(0);
            queue.awaitUsed(1, WAIT);
            assertEquals(VIRTIO_BLK_S_OK, status(r));
            assertEquals(0, ioThreads("shutdown-test"));
            own.close();
        });
    }

    private static long ioThreads(String deviceId) {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.isAlive() && t.getName().startsWith("panvm-blk-io-" + deviceId + "-"))
                .count();
    }

    /** How many chains the device has returned so far, as the driver reads its used ring. */
    private int returned() {
        returned += queue.takeUsed().size();
        return returned;
    }

    private static void sleepMicros(long micros) throws IOException {
        try {
            TimeUnit.MICROSECONDS.sleep(micros);
        } catch (InterruptedException e) {
            throw new IOException(e);
        }
    }
}
