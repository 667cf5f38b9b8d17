package dev.panvm.virtio.console;

import dev.panvm.virtio.DeviceStatus;
import dev.panvm.virtio.DeviceType;
import dev.panvm.virtio.FeatureBits;
import dev.panvm.virtio.SimpleGuestMemory;
import dev.panvm.virtio.mmio.MmioRegister;
import dev.panvm.virtio.mmio.MmioTransport;
import dev.panvm.virtio.mock.GuestAllocator;
import dev.panvm.virtio.mock.InMemoryConsolePort;
import dev.panvm.virtio.mock.MockMmioDriver;
import dev.panvm.virtio.mock.MockSplitQueue;
import dev.panvm.virtio.mock.MockSplitQueue.UsedElement;
import dev.panvm.virtio.mock.RecordingInterrupts;
import dev.panvm.virtio.queue.BufferElement;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static dev.panvm.virtio.console.VirtioConsole.CONFIG_COLS;
import static dev.panvm.virtio.console.VirtioConsole.CONFIG_EMERG_WR;
import static dev.panvm.virtio.console.VirtioConsole.CONFIG_MAX_NR_PORTS;
import static dev.panvm.virtio.console.VirtioConsole.CONFIG_ROWS;
import static dev.panvm.virtio.console.VirtioConsole.RECEIVEQ;
import static dev.panvm.virtio.console.VirtioConsole.TRANSMITQ;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The console through the real virtio-mmio transport, driven by the mock driver. */
class VirtioConsoleTest {
    private static final int QUEUE_SIZE = 64;

    private final SimpleGuestMemory memory = SimpleGuestMemory.ofSize(4 << 20);
    private final GuestAllocator allocator = new GuestAllocator(0x1000, 4 << 20);
    private final RecordingInterrupts interrupts = new RecordingInterrupts();
    private final InMemoryConsolePort port = new InMemoryConsolePort();
    private final VirtioConsole console = new VirtioConsole(port, QUEUE_SIZE);
    private final MockMmioDriver driver = new MockMmioDriver(new MmioTransport(console, memory, interrupts), memory, allocator);
    private MockSplitQueue rx;
    private MockSplitQueue tx;
    private boolean eventIdx;

    @AfterEach
    void close() {
        assertEquals(0, memory.rejectedSlices());
        assertEquals(0, console.internalErrors());
        memory.close();
    }

    /** Resets the device and sets it up again, with every feature it offers or all but EVENT_IDX. */
    private void start(boolean withEventIdx) {
        long wanted = withEventIdx ? -1L : ~FeatureBits.bit(FeatureBits.VIRTIO_F_EVENT_IDX);
        List<MockSplitQueue> queues = driver.initialize(wanted, QUEUE_SIZE);
        rx = queues.get(RECEIVEQ);
        tx = queues.get(TRANSMITQ);
        eventIdx = withEventIdx;
    }

    /** Makes a chain available as a driver does: publish it, then notify only if the device asked (2.7.10). */
    private int post(MockSplitQueue q, int queueIndex, List<BufferElement> chain) {
        int before = q.availIdx();
        int head = q.addChain(chain);
        kickIfAsked(q, queueIndex, before);
        return head;
    }

    private int postIndirect(MockSplitQueue q, int queueIndex, List<BufferElement> chain) {
        int before = q.availIdx();
        int head = q.addIndirectChain(chain);
        kickIfAsked(q, queueIndex, before);
        return head;
    }

    private void kickIfAsked(MockSplitQueue q, int queueIndex, int availIdxBefore) {
        if (q.needsKick(availIdxBefore, eventIdx)) {
            driver.kick(queueIndex);
        }
    }

    private void emergencyWrite(long value) {
        driver.write(MmioRegister.CONFIG + CONFIG_EMERG_WR, 4, value);
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    private static byte[] bytes(int length, int seed) {
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) {
            b[i] = (byte) (seed + i * 31 + (i >>> 8));
        }
        return b;
    }

    /** The first {@code length} bytes of a chain's buffers, in chain order. */
    private static byte[] received(MockSplitQueue q, List<BufferElement> chain, long length) {
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        chain.forEach(b -> all.writeBytes(q.contents(b)));
        return Arrays.copyOf(all.toByteArray(), (int) length);
    }

    // ---- identification, features, configuration space ----

    @Test
    void offersEmergencyWriteButNeitherSizeNorMultiport() {
        assertEquals(DeviceType.CONSOLE.id(), driver.read(MmioRegister.DEVICE_ID));
        long offered = driver.deviceFeatures();
        assertEquals(FeatureBits.TRANSPORT_FEATURES | FeatureBits.bit(VirtioConsole.VIRTIO_CONSOLE_F_EMERG_WRITE), offered);
        assertFalse(FeatureBits.has(offered, VirtioConsole.VIRTIO_CONSOLE_F_SIZE));
        assertFalse(FeatureBits.has(offered, VirtioConsole.VIRTIO_CONSOLE_F_MULTIPORT));
        assertFalse(driver.negotiate(FeatureBits.TRANSPORT_FEATURES | FeatureBits.bit(VirtioConsole.VIRTIO_CONSOLE_F_MULTIPORT)),
                "MULTIPORT was not offered, so FEATURES_OK must be refused");

        start(true);
        assertEquals(offered, driver.transport().driverFeatures());
        assertEquals(2, driver.transport().queues().size(), "receiveq and transmitq, no control queues");
        assertEquals(QUEUE_SIZE, driver.transport().queues().get(RECEIVEQ).maxSize());
        assertTrue(console.isActive());
    }

    @Test
    void configurationSpaceHoldsOnePortAndNoSize() {
        assertEquals(0, driver.readConfig(CONFIG_COLS, 2));
        assertEquals(0, driver.readConfig(CONFIG_ROWS, 2));
        assertEquals(1, driver.readConfig(CONFIG_MAX_NR_PORTS, 4));
        assertEquals(0, driver.readConfig(CONFIG_EMERG_WR, 4));
        assertEquals(1L << 32, driver.readConfig(CONFIG_COLS, 8), "cols, rows and max_nr_ports in one 64-bit read");
        assertEquals(0, driver.readConfig(12, 4), "beyond struct virtio_console_config");
        assertEquals(VirtioConsole.DEFAULT_QUEUE_SIZE, new VirtioConsole(port).queueMaxSize(RECEIVEQ));
    }

    // ---- transmitq ----

    @Test
    void guestOutputReachesThePortExactlyAndInOrder() {
        start(true);
        int a = post(tx, TRANSMITQ, List.of(tx.readable(ascii("hello "))));
        int b = post(tx, TRANSMITQ, List.of(tx.readable(ascii("virtio")), tx.readable(ascii("-")), tx.readable(ascii("console "))));
        int c = postIndirect(tx, TRANSMITQ, List.of(tx.readable(ascii("through an ")), tx.readable(ascii("indirect table\n"))));

        assertArrayEquals(ascii("hello virtio-console through an indirect table\n"), port.takeOutput());
        assertEquals(List.of(new UsedElement(a, 0), new UsedElement(b, 0), new UsedElement(c, 0)), tx.takeUsed());
        assertEquals(6, port.writeCalls(), "one port write per buffer element, straight from guest memory");
        ConsoleMetrics.Snapshot m = console.metrics().snapshot();
        assertEquals(3, m.txChains());
        assertEquals(47, m.txBytes());
    }

    @Test
    void transmitChainWithADeviceWritableBufferIsReturnedUnused() {
        start(true);
        int bad = post(tx, TRANSMITQ, List.of(tx.readable(ascii("not this")), tx.writable(8)));
        int good = post(tx, TRANSMITQ, List.of(tx.readable(ascii("but this"))));
        assertEquals(List.of(new UsedElement(bad, 0), new UsedElement(good, 0)), tx.takeUsed());
        assertArrayEquals(ascii("but this"), port.takeOutput());
        assertEquals(1, console.metrics().snapshot().malformedChains());
        assertTrue(console.isActive());
    }

    // ---- receiveq ----

    @Test
    void hostInputReachesAPostedBuffer() {
        start(true);
        BufferElement buffer = rx.writable(64);
        int head = post(rx, RECEIVEQ, List.of(buffer));
        assertEquals(List.of(), rx.takeUsed(), "no input yet: the buffer stays posted");

        port.append(ascii("ls -l\n"));
        interrupts.take();
        console.receiveFromPort();
        assertEquals(List.of(new UsedElement(head, 6)), rx.takeUsed());
        assertArrayEquals(ascii("ls -l\n"), received(rx, List.of(buffer), 6));
        assertEquals(1, interrupts.take());
        assertEquals(new ConsoleMetrics.Snapshot(1, 6, 0, 0, 0, 0, 0, 0), console.metrics().snapshot());
    }

    @ParameterizedTest(name = "event idx {0}")
    @ValueSource(booleans = {true, false})
    void inputLargerThanThePostedBuffersIsSplitWithoutLossOrDuplication(boolean withEventIdx) {
        start(withEventIdx);
        byte[] input = bytes(10 * 1024, 7);
        port.append(input);
        Map<Integer, List<BufferElement>> posted = new HashMap<>();
        for (int i = 0; i < 3; i++) {
            List<BufferElement> chain = List.of(rx.writable(100), rx.writable(1), rx.writable(300));
            posted.put(post(rx, RECEIVEQ, chain), chain);
        }
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        for (int round = 0; round < 100 && got.size() < input.length; round++) {
            List<UsedElement> used = rx.takeUsed();
            assertFalse(used.isEmpty(), "input waits and buffers are posted, yet nothing came back");
            for (UsedElement u : used) {
                assertTrue(u.length() > 0, "a receive chain came back without input");
                List<BufferElement> chain = posted.remove(u.id());
                got.writeBytes(received(rx, chain, u.length()));
                posted.put(post(rx, RECEIVEQ, chain), chain);   // the guest reposts the same buffers
            }
        }
        assertArrayEquals(input, got.toByteArray());
        assertEquals(0, port.pending());
        assertEquals(3, posted.size(), "the reposted buffers wait for more input");
        assertEquals(List.of(), rx.takeUsed());
        assertEquals(input.length, console.metrics().snapshot().rxBytes());
    }

    @ParameterizedTest(name = "event idx {0}")
    @ValueSource(booleans = {true, false})
    void inputWithNoBufferPostedWaitsUntilBuffersArrive(boolean withEventIdx) {
        start(withEventIdx);
        byte[] input = ascii("early bird");
        port.append(input);
        console.receiveFromPort();
        assertEquals(input.length, port.pending(), "nothing is dropped while no buffer is posted");

        // The device must have asked to be notified of new buffers, or the driver would not kick.
        BufferElement small = rx.writable(4);
        int first = post(rx, RECEIVEQ, List.of(small));
        assertEquals(List.of(new UsedElement(first, 4)), rx.takeUsed());

        // The buffers ran out again with input waiting: the next one must be noticed too.
        BufferElement rest = rx.writable(64);
        int second = post(rx, RECEIVEQ, List.of(rest));
        assertEquals(List.of(new UsedElement(second, 6)), rx.takeUsed());
        assertArrayEquals(ascii("earl"), received(rx, List.of(small), 4));
        assertArrayEquals(ascii("y bird"), received(rx, List.of(rest), 6));
    }

    @Test
    void aShortReadEndsTheChainSoItsBuffersHoldNoGap() {
        start(true);
        port.setMaxRead(3);
        byte[] input = ascii("0123456789");
        port.append(input);
        Map<Integer, List<BufferElement>> posted = new HashMap<>();
        for (int i = 0; i < 4; i++) {
            List<BufferElement> chain = List.of(rx.writable(4), rx.writable(8));
            posted.put(post(rx, RECEIVEQ, chain), chain);
        }
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        List<Long> lengths = new ArrayList<>();
        for (UsedElement u : rx.takeUsed()) {
            lengths.add(u.length());
            got.writeBytes(received(rx, posted.get(u.id()), u.length()));
        }
        assertEquals(List.of(3L, 3L, 3L, 1L), lengths);
        assertArrayEquals(input, got.toByteArray());
    }

    @Test
    void receiveChainsTheDeviceCannotFillAreReturnedUnused() {
        start(true);
        port.append(ascii("hello"));
        int readable = post(rx, RECEIVEQ, List.of(rx.readable(new byte[4]), rx.writable(16)));
        int noRoom = post(rx, RECEIVEQ, List.of(rx.writable(0)));
        BufferElement ok = rx.writable(16);
        int good = post(rx, RECEIVEQ, List.of(ok));
        assertEquals(List.of(new UsedElement(readable, 0), new UsedElement(noRoom, 0), new UsedElement(good, 5)), rx.takeUsed());
        assertArrayEquals(ascii("hello"), received(rx, List.of(ok), 5));
        assertEquals(2, console.metrics().snapshot().malformedChains());
    }

    // ---- used buffer notifications ----

    @Test
    void signalsOncePerBatchUnlessTheDriverSuppressesInterrupts() {
        start(false);
        for (int i = 0; i < 3; i++) {
            post(rx, RECEIVEQ, List.of(rx.writable(8)));
        }
        assertEquals(0, interrupts.take(), "buffers posted without input: nothing used, nothing to signal");
        port.append(bytes(100, 1));
        console.receiveFromPort();
        assertEquals(3, rx.takeUsed().size());
        assertEquals(1, interrupts.take(), "one interrupt for the batch");

        post(tx, TRANSMITQ, List.of(tx.readable(ascii("x"))));
        assertEquals(1, tx.takeUsed().size());
        assertEquals(1, interrupts.take());

        rx.setAvailFlags(1);    // VIRTQ_AVAIL_F_NO_INTERRUPT
        tx.setAvailFlags(1);
        post(rx, RECEIVEQ, List.of(rx.writable(8)));
        post(tx, TRANSMITQ, List.of(tx.readable(ascii("y"))));
        assertEquals(1, rx.takeUsed().size());
        assertEquals(1, tx.takeUsed().size());
        assertEquals(0, interrupts.take());
    }

    @Test
    void withEventIdxSignalsWhenTheUsedIdxPassesUsedEvent() {
        start(true);
        rx.setUsedEvent(2);
        for (int i = 0; i < 3; i++) {
            post(rx, RECEIVEQ, List.of(rx.writable(64)));
            port.append(ascii("line\n"));
            console.receiveFromPort();
        }
        assertEquals(3, rx.takeUsed().size());
        // Used idx 1 (the first check always signals), 2 (no: used_event 2 not passed), 3 (yes).
        assertEquals(2, interrupts.take());
    }

    // ---- emerg_wr ----

    @Test
    void emergencyWriteOutputsTheLowByteAtAnyTime() {
        emergencyWrite(0x1234_5641);                     // 'A', before the driver touched the device
        start(true);
        emergencyWrite('B');
        driver.initialize(~FeatureBits.bit(VirtioConsole.VIRTIO_CONSOLE_F_EMERG_WRITE), QUEUE_SIZE);
        emergencyWrite('C');                             // the feature was offered, not accepted: still allowed
        assertArrayEquals(ascii("ABC"), port.takeOutput());
        assertEquals(3, console.metrics().snapshot().emergencyWrites());
    }

    @Test
    void emergencyWritesAndTransmittedBuffersKeepTheirOrder() {
        start(true);
        post(tx, TRANSMITQ, List.of(tx.readable(ascii("pan"))));
        emergencyWrite('i');
        emergencyWrite('c');
        post(tx, TRANSMITQ, List.of(tx.readable(ascii("!\n"))));
        assertArrayEquals(ascii("panic!\n"), port.takeOutput());
    }

    @Test
    void anEmergencyWriteWaitsForTheTransmitBufferBeingWritten() throws Exception {
        CountDownLatch transmitting = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger writers = new AtomicInteger();
        AtomicInteger overlaps = new AtomicInteger();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ConsolePort flowControlled = new ConsolePort() {
            @Override
            public int read(MemorySegment dst) {
                return 0;
            }

            @Override
            public void write(MemorySegment src) throws IOException {
                if (writers.incrementAndGet() > 1) {
                    overlaps.incrementAndGet();
                }
                try {
                    if (src.byteSize() > 1) {   // the transmitq buffer: held until the host reads
                        transmitting.countDown();
                        release.await();
                    }
                    synchronized (out) {
                        out.writeBytes(src.toArray(ValueLayout.JAVA_BYTE));
                    }
                } catch (InterruptedException e) {
                    throw new IOException(e);
                } finally {
                    writers.decrementAndGet();
                }
            }
        };
        VirtioConsole c = new VirtioConsole(flowControlled, QUEUE_SIZE);
        MmioTransport transport = new MmioTransport(c, memory, interrupts);
        MockMmioDriver d = new MockMmioDriver(transport, memory, allocator);
        MockSplitQueue q = d.initialize(-1L, QUEUE_SIZE).get(TRANSMITQ);
        q.addChain(List.of(q.readable(ascii("flow-controlled"))));

        Thread deviceThread = Thread.ofPlatform().start(() -> d.kick(TRANSMITQ));
        assertTrue(transmitting.await(10, TimeUnit.SECONDS));
        MemorySegment emergWr = MemorySegment.ofArray(new byte[] {'!', 0, 0, 0});
        Thread vcpuThread = Thread.ofPlatform().start(() -> transport.write(MmioRegister.CONFIG + CONFIG_EMERG_WR, emergWr));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        // Waiting for the device's lock (parked: the lock is a ReentrantLock, with a bounded wait).
        while (vcpuThread.isAlive() && vcpuThread.getState() != Thread.State.TIMED_WAITING
                && vcpuThread.getState() != Thread.State.BLOCKED && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        release.countDown();
        deviceThread.join(10_000);
        vcpuThread.join(10_000);

        assertEquals(0, overlaps.get(), "the emergency byte went to the port in the middle of a transmit buffer");
        assertArrayEquals(ascii("flow-controlled!"), out.toByteArray());
        assertEquals(0, c.internalErrors());
    }

    @Test
    void configWritesOtherThanA32BitEmergWrAreIgnored() {
        driver.write(MmioRegister.CONFIG + CONFIG_COLS, 2, 80);
        driver.write(MmioRegister.CONFIG + CONFIG_ROWS, 2, 25);
        driver.write(MmioRegister.CONFIG + CONFIG_MAX_NR_PORTS, 4, 8);
        driver.write(MmioRegister.CONFIG + CONFIG_EMERG_WR, 1, 'x');
        driver.write(MmioRegister.CONFIG + CONFIG_EMERG_WR, 2, 'x');
        driver.write(MmioRegister.CONFIG + CONFIG_EMERG_WR + 1, 1, 'x');
        driver.write(MmioRegister.CONFIG + CONFIG_EMERG_WR, 8, 'x');
        driver.write(MmioRegister.CONFIG + CONFIG_EMERG_WR + 4, 4, 'x');
        assertEquals(1L << 32, driver.readConfig(CONFIG_COLS, 8));
        assertEquals(0, driver.readConfig(CONFIG_EMERG_WR, 4));
        assertEquals(0, port.takeOutput().length);
        assertEquals(0, console.metrics().snapshot().emergencyWrites());
    }

    // ---- lifecycle ----

    @Test
    void inputArrivingBeforeTheDriverIsReadyWaitsInThePort() {
        port.append(ascii("boot"));
        console.receiveFromPort();
        assertEquals(4, port.pending());
        start(true);
        BufferElement buffer = rx.writable(16);
        int head = post(rx, RECEIVEQ, List.of(buffer));
        assertEquals(List.of(new UsedElement(head, 4)), rx.takeUsed());
        assertArrayEquals(ascii("boot"), received(rx, List.of(buffer), 4));
    }

    @Test
    void resetMidStreamKeepsTheUndeliveredInputAndDropsTheOldRings() {
        start(true);
        byte[] input = bytes(300, 3);
        port.append(input);
        BufferElement first = rx.writable(100);
        int head = post(rx, RECEIVEQ, List.of(first));
        assertEquals(List.of(new UsedElement(head, 100)), rx.takeUsed());
        tx.addChain(List.of(tx.readable(ascii("never kicked"))));

        driver.setStatus(0);
        assertFalse(console.isActive());
        console.receiveFromPort();
        assertEquals(200, port.pending(), "a reset device takes no input");

        start(true);
        BufferElement second = rx.writable(512);
        head = post(rx, RECEIVEQ, List.of(second));
        assertEquals(List.of(new UsedElement(head, 200)), rx.takeUsed());
        assertArrayEquals(Arrays.copyOfRange(input, 0, 100), received(rx, List.of(first), 100));
        assertArrayEquals(Arrays.copyOfRange(input, 100, 300), received(rx, List.of(second), 200));
        post(tx, TRANSMITQ, List.of(tx.readable(ascii("after reset"))));
        assertArrayEquals(ascii("after reset"), port.takeOutput());
    }

    @Test
    void afterAFailureInputWaitsAndEmergencyWritesStillWork() {
        start(true);
        rx.addChain(List.of(rx.writable(16)));
        rx.setAvailIdx(rx.availIdx() + 1000);           // garbage: more chains than the ring holds
        driver.kick(RECEIVEQ);
        assertTrue(console.hasFailed());
        assertTrue((driver.status() & DeviceStatus.DEVICE_NEEDS_RESET) != 0);

        port.append(ascii("stuck"));
        console.receiveFromPort();
        assertEquals(5, port.pending(), "a failed device takes no input");
        emergencyWrite('!');
        assertArrayEquals(ascii("!"), port.takeOutput());
    }

    @Test
    void portErrorsAreCountedAndTheDeviceCarriesOn() {
        start(true);
        port.setFailing(true);
        int lost = post(tx, TRANSMITQ, List.of(tx.readable(ascii("lost"))));
        assertEquals(List.of(new UsedElement(lost, 0)), tx.takeUsed());
        BufferElement buffer = rx.writable(16);
        int head = post(rx, RECEIVEQ, List.of(buffer));
        emergencyWrite('x');
        assertEquals(List.of(), rx.takeUsed(), "a failed read is no input: the buffer stays posted");
        ConsoleMetrics.Snapshot m = console.metrics().snapshot();
        assertEquals(2, m.portWriteErrors());
        assertEquals(1, m.portReadErrors());
        assertEquals(0, m.emergencyWrites());

        port.setFailing(false);
        port.append(ascii("back"));
        console.receiveFromPort();
        assertEquals(List.of(new UsedElement(head, 4)), rx.takeUsed());
        assertArrayEquals(ascii("back"), received(rx, List.of(buffer), 4));
        assertTrue(console.isActive());
    }
}
