package dev.panvm.virtio.mock;

import dev.panvm.virtio.FeatureBits;
import dev.panvm.virtio.LittleEndian;
import dev.panvm.virtio.SimpleGuestMemory;
import dev.panvm.virtio.blk.BlockBackend;
import dev.panvm.virtio.blk.BlockRequest;
import dev.panvm.virtio.blk.VirtioBlk;
import dev.panvm.virtio.mmio.MmioTransport;
import dev.panvm.virtio.queue.BufferElement;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.List;
import java.util.function.IntConsumer;

/**
 * A {@link VirtioBlk} driven the way a guest's driver drives it, without a guest: virtio's mock
 * driver (the test utilities after rust-vmm's MockSplitQueue) sets the device up through its
 * virtio-mmio transport in off-heap "guest" memory, with EVENT_IDX and FLUSH; the device runs on
 * a device thread woken by the driver's kicks, as the vmm's is by its ioeventfd, which like the
 * vmm's polls the queue for {@link #DEVICE_POLL} after each wake-up; the driver polls the used
 * ring instead of taking interrupts, as ferrite's polling driver does.
 *
 * <p>Requests go through {@link Slot}s: a chain (header, data buffer, status byte) built once,
 * made available again for each request with a new sector in its header, as a driver recycles
 * its descriptors. The caller keeps at most as many slots in flight as it likes (its queue
 * depth), drives the loop with {@link #post}, {@link #kick} and {@link #reap}.
 */
public final class SimulatedBlkDriver implements AutoCloseable {
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(10);
    /** The vmm device thread's poll after a wake-up (VirtioMmioSlot.POLL_NANOS). */
    public static final Duration DEVICE_POLL = Duration.ofNanos(50_000);

    /** One request's chain, reused: its head, where its header and status byte are, its data buffer. */
    public record Slot(int head, long header, BufferElement data, long status) {
    }

    private final SimpleGuestMemory memory;
    private final GuestAllocator allocator;
    private final VirtioBlk device;
    private final DeviceThread thread;
    private final MockMmioDriver driver;
    private final MockSplitQueue queue;
    private int kickFrom;
    private int seenUsed;

    /**
     * A device on {@code backend} with {@code ioThreads} I/O threads (0: requests on the device
     * thread) and a queue of {@code queueSize} entries, in {@code ramBytes} of guest memory.
     */
    public SimulatedBlkDriver(BlockBackend backend, int ioThreads, int queueSize, long ramBytes) {
        memory = SimpleGuestMemory.ofSize(ramBytes);
        allocator = new GuestAllocator(0x1000, ramBytes);
        device = new VirtioBlk(backend, queueSize, ioThreads);
        thread = new DeviceThread(device, DEVICE_POLL);
        driver = new MockMmioDriver(new MmioTransport(device, memory, bits -> { }, thread.notifier()), memory, allocator);
        queue = driver.initialize(FeatureBits.TRANSPORT_FEATURES | FeatureBits.bit(VirtioBlk.VIRTIO_BLK_F_FLUSH),
                queueSize).getFirst();
        kickFrom = queue.availIdx();
    }

    public VirtioBlk device() {
        return device;
    }

    /** A chain for requests of {@code type} with {@code dataBytes} of data (device-writable for IN). */
    public Slot slot(int type, int dataBytes) {
        byte[] header = new byte[BlockRequest.HEADER_SIZE];
        LittleEndian.putU32(MemorySegment.ofArray(header), 0, type);
        BufferElement h = queue.readable(header);
        BufferElement status = queue.writable(1);
        BufferElement data = dataBytes == 0 ? null
                : queue.buffer(dataBytes, type == BlockRequest.VIRTIO_BLK_T_IN);
        List<BufferElement> chain = data == null ? List.of(h, status) : List.of(h, data, status);
        return new Slot(queue.buildChain(chain), h.address(), data, status.address());
    }

    /** The slot's data buffer in guest memory. */
    public MemorySegment data(Slot s) {
        return memory.slice(s.data().address(), s.data().length());
    }

    /** Makes the slot's chain available for a request at {@code sector} (no kick yet). */
    public void post(Slot s, long sector) {
        LittleEndian.putU64(memory.slice(s.header() + 8, 8), 0, sector);
        memory.slice(s.status(), 1).fill((byte) 0xff);
        queue.publish(s.head());
    }

    /** Notifies the device if it asked for it since the last kick (2.7.10, with EVENT_IDX). */
    public void kick() {
        if (queue.needsKick(kickFrom, true)) {
            driver.kick(0);
        }
        kickFrom = queue.availIdx();
    }

    /** Hands the heads of the chains the device returned since the last call to {@code done}; returns how many. */
    public int reap(IntConsumer done) {
        int used = queue.usedIdx();
        int n = 0;
        while (seenUsed != used) {
            done.accept(queue.usedElement(seenUsed % queue.size()).id());
            seenUsed = (seenUsed + 1) & 0xffff;
            n++;
        }
        return n;
    }

    /** The status byte the device wrote for the slot's last request (0xff: none yet). */
    public int status(Slot s) {
        return LittleEndian.u8(memory.slice(s.status(), 1), 0);
    }

    /** Stops the device thread and the device's I/O threads; the backend is the caller's to close. */
    @Override
    public void close() throws InterruptedException {
        boolean quiet = device.shutdown();
        boolean stopped = thread.stop(STOP_TIMEOUT);
        if (device.internalErrors() != 0 || device.hasFailed() || !quiet || !stopped) {
            throw new IllegalStateException("the device failed or did not stop");
        }
        memory.close();
    }
}
