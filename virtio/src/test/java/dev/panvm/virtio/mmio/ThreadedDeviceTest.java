package dev.panvm.virtio.mmio;

import dev.panvm.virtio.FeatureBits;
import dev.panvm.virtio.SimpleGuestMemory;
import dev.panvm.virtio.mock.GuestAllocator;
import dev.panvm.virtio.mock.MockMmioDriver;
import dev.panvm.virtio.mock.MockSplitQueue;
import dev.panvm.virtio.mock.MockSplitQueue.UsedElement;
import dev.panvm.virtio.queue.BufferElement;
import dev.panvm.virtio.rng.EntropySource;
import dev.panvm.virtio.rng.VirtioRng;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The driver and the device on different threads, as in a VM: the driver thread publishes chains
 * and kicks only when the notification-suppression fields say so; the device thread wakes on a
 * kick (the vmm's ioeventfd) and raises an interrupt (the irqfd) only when the driver asked. If
 * either side's barriers or re-checks were wrong, a wake-up would be lost and the driver would
 * wait for ever: the test fails on a timeout instead.
 */
class ThreadedDeviceTest {
    private static final int CHAINS = 20_000;

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void noNotificationIsLost(boolean eventIdx) throws InterruptedException {
        try (SimpleGuestMemory memory = SimpleGuestMemory.ofSize(1 << 20)) {
            EntropySource source = new EntropySource() {
                @Override
                public long fill(MemorySegment dst) {
                    dst.fill((byte) 1);
                    return dst.byteSize();
                }

                @Override
                public void close() {
                }
            };
            VirtioRng rng = new VirtioRng(source, 16);
            Semaphore kicks = new Semaphore(0);
            Semaphore interrupts = new Semaphore(0);
            MmioTransport transport = new MmioTransport(rng, memory, bits -> interrupts.release(), q -> kicks.release());
            MockMmioDriver driver = new MockMmioDriver(transport, memory, new GuestAllocator(0x1000, 1 << 20));
            long features = FeatureBits.bit(FeatureBits.VIRTIO_F_VERSION_1)
                    | (eventIdx ? FeatureBits.bit(FeatureBits.VIRTIO_F_EVENT_IDX) : 0);
            MockSplitQueue q = driver.initialize(features, 16).getFirst();
            BufferElement buffer = q.writable(32);

            Thread deviceThread = Thread.ofPlatform().name("virtio-rng").start(() -> {
                try {
                    while (!Thread.currentThread().isInterrupted()) {
                        kicks.acquire();
                        kicks.drainPermits();
                        rng.processQueue(0);
                    }
                } catch (InterruptedException e) {
                    // done
                }
            });
            try {
                int posted = 0;
                int completed = 0;
                int inFlight = 0;
                while (completed < CHAINS) {
                    int before = q.availIdx();
                    while (posted < CHAINS && inFlight < 16) {
                        q.addChain(List.of(buffer));
                        posted++;
                        inFlight++;
                    }
                    if (q.availIdx() != before && q.needsKick(before, eventIdx)) {
                        driver.kick(0);
                    }
                    List<UsedElement> used = q.takeUsed();
                    for (UsedElement u : used) {
                        assertEquals(32, u.length());
                    }
                    completed += used.size();
                    inFlight -= used.size();
                    if (used.isEmpty()) {
                        // Ask for an interrupt at the next used entry, then look once more (2.7.14).
                        q.setUsedEvent(q.lastSeenUsed());
                        q.setAvailFlags(0);
                        VarHandle.fullFence();
                        if (!q.hasNewUsed() && !interrupts.tryAcquire(5, TimeUnit.SECONDS)) {
                            fail("lost notification after " + completed + " chains (event idx " + eventIdx + ")");
                        }
                    } else if (eventIdx) {
                        // Poll while busy: push used_event far away.
                        q.setUsedEvent(q.usedIdx() - 1);
                    } else {
                        q.setAvailFlags(1);
                    }
                }
                assertEquals(CHAINS, completed);
                assertTrue(rng.isActive());
                assertEquals(0, rng.internalErrors());
            } finally {
                deviceThread.interrupt();
                deviceThread.join();
            }
            assertEquals(0, memory.rejectedSlices());
        }
    }
}
