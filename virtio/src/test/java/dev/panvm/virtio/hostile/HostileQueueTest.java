package dev.panvm.virtio.hostile;

import dev.panvm.virtio.FeatureBits;
import dev.panvm.virtio.LittleEndian;
import dev.panvm.virtio.SimpleGuestMemory;
import dev.panvm.virtio.mock.HostileGuest;
import dev.panvm.virtio.mock.SeededTries;
import dev.panvm.virtio.queue.BufferElement;
import dev.panvm.virtio.queue.Descriptor;
import dev.panvm.virtio.queue.DescriptorChain;
import dev.panvm.virtio.queue.PopResult;
import dev.panvm.virtio.queue.Virtqueue;
import dev.panvm.virtio.queue.VirtqueueError.ChainError;
import dev.panvm.virtio.queue.VirtqueueError.QueueError;
import dev.panvm.virtio.queue.VirtqueuePart;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Property: whatever a guest writes into a split virtqueue (descriptor tables, indirect tables,
 * ring entries, indices, ring addresses), {@link Virtqueue} never throws, never asks for guest
 * memory outside RAM, never loops, and every chain it hands out satisfies the rules a device
 * relies on.
 */
class HostileQueueTest {
    private static final long RAM = 64 * 1024;

    @Test
    void randomRingsNeverEscapeGuestMemory() {
        int tries = SeededTries.run(42, 3000, Duration.ofSeconds(6), HostileQueueTest::randomRings);
        assertTrue(tries >= 100, "only " + tries + " tries in the time budget");
    }

    private static void randomRings(SplittableRandom random) {
        try (SimpleGuestMemory memory = SimpleGuestMemory.ofSize(RAM)) {
            HostileGuest g = new HostileGuest(random, RAM);
            int maxSize = 1 << g.between(0, 7);
            int size = g.chance(0.9) ? 1 << g.between(0, Integer.numberOfTrailingZeros(maxSize) + 1) : g.between(0, 300);
            long features = FeatureBits.bit(FeatureBits.VIRTIO_F_VERSION_1)
                    | (g.chance(0.5) ? FeatureBits.bit(FeatureBits.VIRTIO_F_EVENT_IDX) : 0)
                    | (g.chance(0.7) ? FeatureBits.bit(FeatureBits.VIRTIO_F_INDIRECT_DESC) : 0);

            // Rings where a driver would put them, or anywhere at all.
            long desc = g.chance(0.9) ? 0x1000 : g.address();
            long avail = g.chance(0.9) ? 0x3000 + (g.chance(0.05) ? 1 : 0) : g.address();
            long used = g.chance(0.9) ? 0x4000 : g.address();
            int tableSize = Math.max(1, Math.min(size, 512));
            if (memory.contains(0x1000, 16L * tableSize)) {
                g.randomTable(memory.slice(0x1000, 16L * tableSize), tableSize);
            }
            // A few indirect tables full of junk, and descriptors pointing at them.
            for (int t = 0; t < 4; t++) {
                long at = 0x8000 + 0x1000L * t;
                int entries = g.between(1, 40);
                g.randomTable(memory.slice(at, 16L * entries), entries);
                if (memory.contains(0x1000, 16L * tableSize)) {
                    int slot = g.between(0, tableSize);
                    int flags = Descriptor.VIRTQ_DESC_F_INDIRECT | (g.chance(0.2) ? g.flags() : 0);
                    new Descriptor(at, g.chance(0.8) ? 16L * entries : g.length(), flags, g.next(tableSize))
                            .write(memory.slice(0x1000, 16L * tableSize), slot);
                }
            }
            // Available ring entries, idx and used_event.
            MemorySegment availRing = memory.slice(0x3000, VirtqueuePart.AVAILABLE_RING.size(256));
            for (int i = 0; i < 256; i++) {
                LittleEndian.putU16(availRing, 4 + 2L * i, g.chance(0.9) ? g.between(0, tableSize) : g.between(0, 1 << 16));
            }
            LittleEndian.putU16(availRing, 0, g.flags());
            LittleEndian.putU16(availRing, 2, g.chance(0.8) ? g.between(0, Math.max(1, size) + 1) : g.between(0, 1 << 16));

            Virtqueue q = new Virtqueue(maxSize);
            q.setSize(size);
            q.setDescriptorTableAddress(desc);
            q.setAvailableRingAddress(avail);
            q.setUsedRingAddress(used);
            q.setReady(true);
            boolean ok = q.activate(memory, features).isEmpty();

            int pops = 0;
            while (pops++ < 4 * Math.max(size, 1) + 8) {
                PopResult r = q.pop();
                if (r instanceof PopResult.Empty) {
                    if (!q.enableNotification()) {
                        break;
                    }
                } else if (r instanceof QueueError) {
                    assertFalse(q.isActive());
                    break;
                } else if (r instanceof ChainError e) {
                    assertTrue(e.headIndex() >= 0 && e.headIndex() < size);
                    q.addUsed(e.headIndex(), 0);
                } else if (r instanceof DescriptorChain c) {
                    checkChain(c, memory, size);
                    q.addUsed(c.headIndex(), Math.min(c.writable().length(), g.between(0, 100)));
                }
                q.needsNotification();
                if (g.chance(0.2)) {
                    q.disableNotification();
                }
                // The guest keeps scribbling while the device works.
                if (g.chance(0.1)) {
                    LittleEndian.putU16(availRing, 2, g.between(0, 1 << 16));
                }
                if (g.chance(0.1) && memory.contains(0x1000, 16L * tableSize)) {
                    g.descriptor(tableSize).write(memory.slice(0x1000, 16L * tableSize), g.between(0, tableSize));
                }
            }
            assertTrue(ok || !q.isActive());
            assertEquals(0, memory.rejectedSlices(), "asked for memory outside guest RAM");
        }
    }

    private static void checkChain(DescriptorChain c, SimpleGuestMemory memory, int size) {
        assertTrue(c.headIndex() >= 0 && c.headIndex() < size);
        assertTrue(c.elements().size() <= size, "chain longer than the queue");
        boolean writableSeen = false;
        long total = 0;
        for (BufferElement e : c.elements()) {
            assertTrue(memory.contains(e.address(), e.length()), "buffer outside RAM: " + e);
            assertFalse(writableSeen && !e.writable(), "readable after writable");
            writableSeen |= e.writable();
            total += e.length();
        }
        assertTrue(total <= 1L << 32);
    }
}
