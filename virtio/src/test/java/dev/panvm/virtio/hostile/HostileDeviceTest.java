package dev.panvm.virtio.hostile;

import dev.panvm.virtio.DeviceStatus;
import dev.panvm.virtio.FeatureBits;
import dev.panvm.virtio.LittleEndian;
import dev.panvm.virtio.SimpleGuestMemory;
import dev.panvm.virtio.VirtioDeviceBase;
import dev.panvm.virtio.blk.BlockBackend;
import dev.panvm.virtio.blk.FileBackend;
import dev.panvm.virtio.blk.NullBackend;
import dev.panvm.virtio.blk.VirtioBlk;
import dev.panvm.virtio.console.VirtioConsole;
import dev.panvm.virtio.mmio.MmioTransport;
import dev.panvm.virtio.mock.GuestAllocator;
import dev.panvm.virtio.mock.HostileGuest;
import dev.panvm.virtio.mock.InMemoryConsolePort;
import dev.panvm.virtio.mock.MockMmioDriver;
import dev.panvm.virtio.mock.MockSplitQueue;
import dev.panvm.virtio.mock.MockSplitQueue.UsedElement;
import dev.panvm.virtio.mock.RecordingInterrupts;
import dev.panvm.virtio.mock.SeededTries;
import dev.panvm.virtio.net.InMemoryNetBackend;
import dev.panvm.virtio.net.MacAddress;
import dev.panvm.virtio.net.VirtioNet;
import dev.panvm.virtio.net.VirtioNetHeader;
import dev.panvm.virtio.queue.BufferElement;
import dev.panvm.virtio.rng.EntropySource;
import dev.panvm.virtio.rng.VirtioRng;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Property: a hostile driver, building chains of random buffers with almost-right request
 * headers, random directions, stray addresses, indirect tables, and scribbling over its rings
 * between notifications, never makes a device or the transport throw, never makes them touch
 * memory outside guest RAM, and gets every chain back with a length no larger than its
 * device-writable part (and, for virtio-blk, a valid status) unless the device asked for a reset;
 * only receive queues may keep chains, those they have no input for yet.
 */
class HostileDeviceTest {
    private static final long RAM = 1 << 20;
    private static final int QUEUE = 64;

    @TempDir
    static Path dir;
    private static FileBackend file;

    @BeforeAll
    static void image() throws IOException {
        Path p = dir.resolve("fuzz.img");
        Files.write(p, new byte[64 * 512 + 100]);
        file = FileBackend.open(p, false);
    }

    @AfterAll
    static void closeImage() throws IOException {
        file.close();
    }

    /** One chain the hostile driver posted, and what the device may answer. */
    private record Posted(int head, List<BufferElement> elements, boolean wellFormed) {
        long writableLength() {
            return elements.stream().filter(BufferElement::writable).mapToLong(BufferElement::length).sum();
        }

        /** The status byte's address (the last device-writable byte), or -1. */
        long statusAddress() {
            long last = -1;
            for (BufferElement e : elements) {
                if (e.writable() && e.length() > 0) {
                    last = e.address() + e.length() - 1;
                }
            }
            return last;
        }
    }

    @Test
    void blockDeviceOnAFile() {
        run(101, g -> new VirtioBlk(file, QUEUE), (g, q, qi) -> g.chain(q, 5, g.blockHeader(64)));
    }

    @Test
    void blockDeviceOnTheNullBackend() {
        run(102, g -> new VirtioBlk(new NullBackend(1 << 20, g.random().nextBoolean()), QUEUE),
                (g, q, qi) -> g.chain(q, 5, g.blockHeader(2048)));
    }

    @Test
    void readOnlyBlockDevice() throws IOException {
        Path p = dir.resolve("ro.img");
        Files.write(p, new byte[16 * 512]);
        try (BlockBackend ro = FileBackend.open(p, true)) {
            run(103, g -> new VirtioBlk(ro, QUEUE), (g, q, qi) -> g.chain(q, 5, g.blockHeader(16)));
            assertTrue(java.util.Arrays.equals(new byte[16 * 512], Files.readAllBytes(p)), "a read-only image changed");
        }
    }

    @Test
    void blockDeviceWithDiscardAndWriteZeroesSegments() {
        run(104, g -> new VirtioBlk(new NullBackend(1 << 20), QUEUE),
                (g, q, qi) -> g.chain(q, 5, g.withSegments(g.blockHeader(2048), 2048)));
    }

    @Test
    void networkDevice() {
        run(105, g -> {
            InMemoryNetBackend backend = g.chance(0.5) ? InMemoryNetBackend.loopback() : InMemoryNetBackend.create();
            for (int i = g.between(0, 6); i > 0; i--) {
                backend.inject(new byte[g.chance(0.8) ? g.between(1, 1600) : g.between(0, 70000)]);
            }
            return new VirtioNet(backend, g.chance(0.5) ? MacAddress.parse("52:54:00:00:00:01") : null, QUEUE);
        }, (g, q, qi) -> {
            if (qi == VirtioNet.RECEIVE_QUEUE) {
                return g.writableChain(q, 5);
            }
            byte[] h = new byte[VirtioNetHeader.SIZE + g.between(0, 100)];
            if (g.chance(0.2)) {
                g.randomBytes(MemorySegment.ofArray(h));
            }
            return g.chain(q, 5, h);
        });
    }

    @Test
    void entropyDevice() {
        EntropySource zeros = new EntropySource() {
            @Override
            public long fill(MemorySegment dst) {
                dst.fill((byte) 0x42);
                return dst.byteSize();
            }

            @Override
            public void close() {
            }
        };
        run(106, g -> new VirtioRng(zeros, QUEUE), (g, q, qi) -> g.writableChain(q, 5));
    }

    @Test
    void consoleDevice() {
        run(107, g -> {
            InMemoryConsolePort port = new InMemoryConsolePort();
            byte[] input = new byte[g.chance(0.8) ? g.between(0, 2000) : g.between(0, 70000)];
            g.randomBytes(MemorySegment.ofArray(input));
            port.append(input);
            return new VirtioConsole(port, QUEUE);
        }, (g, q, qi) -> qi == VirtioConsole.RECEIVEQ ? g.writableChain(q, 5) : g.readableChain(q, 5));
    }

    /** The chains a hostile driver posts on each queue of the device under test. */
    private interface ChainSource {
        List<BufferElement> chain(HostileGuest g, MockSplitQueue q, int queueIndex);
    }

    private static void run(long seed, Function<HostileGuest, VirtioDeviceBase> device, ChainSource chains) {
        int tries = SeededTries.run(seed, 1000, Duration.ofSeconds(3), r -> oneGuest(r, device, chains));
        assertTrue(tries >= 50, "only " + tries + " tries in the time budget");
    }

    private static void oneGuest(SplittableRandom random, Function<HostileGuest, VirtioDeviceBase> deviceFactory,
                                 ChainSource chains) {
        try (SimpleGuestMemory memory = SimpleGuestMemory.ofSize(RAM)) {
            HostileGuest g = new HostileGuest(random, RAM);
            VirtioDeviceBase device = deviceFactory.apply(g);
            MmioTransport transport = new MmioTransport(device, memory, new RecordingInterrupts());
            MockMmioDriver driver = new MockMmioDriver(transport, memory, new GuestAllocator(0x1000, RAM));
            long wanted = FeatureBits.bit(FeatureBits.VIRTIO_F_VERSION_1) | (g.random().nextLong() & 0xffff_ffffL);
            List<MockSplitQueue> queues = driver.initialize(wanted, QUEUE);
            boolean indirect = FeatureBits.has(transport.driverFeatures(), FeatureBits.VIRTIO_F_INDIRECT_DESC);
            boolean scribbled = false;

            List<Map<Integer, Posted>> posted = new ArrayList<>();
            for (int qi = 0; qi < queues.size(); qi++) {
                posted.add(new HashMap<>());
            }
            for (int round = 0; round < 3; round++) {
                for (int qi = 0; qi < queues.size(); qi++) {
                    MockSplitQueue q = queues.get(qi);
                    for (int n = g.between(0, 4); n > 0; n--) {
                        List<BufferElement> chain = chains.chain(g, q, qi);
                        int head;
                        if (indirect && g.chance(0.2)) {
                            head = q.addIndirectChain(chain);
                        } else if (g.chance(0.03)) {
                            head = q.addIndirectChain(chain);   // not negotiated: must come back unused
                        } else {
                            head = q.addChain(chain);
                        }
                        posted.get(qi).put(head, new Posted(head, chain, wellFormed(chain, memory)));
                    }
                    if (g.chance(0.05)) {
                        scribbled = true;
                        scribble(g, q);
                    }
                    driver.kick(qi);
                    if (device instanceof VirtioNet net && g.chance(0.5)) {
                        net.receiveFromBackend();
                    } else if (device instanceof VirtioConsole console && g.chance(0.5)) {
                        console.receiveFromPort();
                    } else if (device instanceof VirtioBlk) {
                        settle(device, qi);
                    }
                    check(q, posted.get(qi), memory, device instanceof VirtioBlk);
                }
                if (g.chance(0.05)) {
                    driver.write(dev.panvm.virtio.mmio.MmioRegister.STATUS, 0);
                    break;
                }
            }
            assertTrue(device.shutdown(), "requests still running at shutdown");
            assertEquals(0, memory.rejectedSlices(), "a device asked for memory outside guest RAM");
            assertEquals(0, device.internalErrors(), "an exception reached a device entry point");
            assertEquals(0, transport.internalErrors(), "an exception reached a transport entry point");
            if (!scribbled && (driver.status() & DeviceStatus.DRIVER_OK) != 0) {
                assertEquals(0, driver.status() & DeviceStatus.DEVICE_NEEDS_RESET, "well-built rings need no reset");
                for (int qi = 0; qi < queues.size(); qi++) {
                    if (!keepsBuffersUntilInput(device, qi)) {
                        assertTrue(posted.get(qi).isEmpty(), "chains never returned: " + posted.get(qi).keySet());
                    }
                }
            }
        }
    }

    /**
     * Waits for the requests a block device runs on its I/O threads, then for them to be in the
     * used ring: an entry point that takes the device's lock returns finished ones as it lets go.
     */
    private static void settle(VirtioDeviceBase device, int queueIndex) {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (device.requestsInFlight() > 0) {
            assertTrue(System.nanoTime() < deadline, device.requestsInFlight() + " requests never finished");
            Thread.onSpinWait();
        }
        device.hasAvailable(queueIndex);
    }

    /** A receive queue holds on to the buffers it has no input for. */
    private static boolean keepsBuffersUntilInput(VirtioDeviceBase device, int queueIndex) {
        return (device instanceof VirtioNet && queueIndex == VirtioNet.RECEIVE_QUEUE)
                || (device instanceof VirtioConsole && queueIndex == VirtioConsole.RECEIVEQ);
    }

    /** Whether the queue will accept the chain (all buffers in RAM, readable before writable). */
    private static boolean wellFormed(List<BufferElement> chain, SimpleGuestMemory memory) {
        boolean writable = false;
        for (BufferElement e : chain) {
            if (!memory.contains(e.address(), e.length()) || (writable && !e.writable())) {
                return false;
            }
            writable |= e.writable();
        }
        return true;
    }

    /** The guest overwrites its available ring index or a descriptor with junk. */
    private static void scribble(HostileGuest g, MockSplitQueue q) {
        if (g.chance(0.5)) {
            q.setAvailIdx(g.between(0, 1 << 16));
        } else {
            q.writeDescriptor(g.between(0, q.size()), g.descriptor(q.size()));
        }
    }

    private static void check(MockSplitQueue q, Map<Integer, Posted> posted, SimpleGuestMemory memory, boolean blk) {
        for (UsedElement u : q.takeUsed()) {
            assertTrue(u.id() >= 0 && u.id() < q.size(), "used id " + u.id());
            Posted p = posted.remove(u.id());
            if (p == null) {
                continue; // a chain the guest scribbled over
            }
            if (!p.wellFormed()) {
                continue;
            }
            assertTrue(u.length() <= p.writableLength(), "used length " + u.length() + " > writable " + p.writableLength());
            if (blk && p.statusAddress() >= 0 && u.length() > 0) {
                int status = LittleEndian.u8(memory.slice(p.statusAddress(), 1), 0);
                assertTrue(status <= 2, "status byte " + status);
            }
        }
    }
}
