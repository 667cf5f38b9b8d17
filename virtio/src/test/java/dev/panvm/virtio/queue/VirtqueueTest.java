package dev.panvm.virtio.queue;

import dev.panvm.virtio.FeatureBits;
import dev.panvm.virtio.GuestMemory;
import dev.panvm.virtio.SimpleGuestMemory;
import dev.panvm.virtio.mock.GuestAllocator;
import dev.panvm.virtio.mock.MockSplitQueue;
import dev.panvm.virtio.queue.VirtqueueError.AvailIndexTooFarAhead;
import dev.panvm.virtio.queue.VirtqueueError.BufferOutsideMemory;
import dev.panvm.virtio.queue.VirtqueueError.ChainTooLarge;
import dev.panvm.virtio.queue.VirtqueueError.ChainTooLong;
import dev.panvm.virtio.queue.VirtqueueError.DescriptorLoop;
import dev.panvm.virtio.queue.VirtqueueError.HeadIndexOutOfRange;
import dev.panvm.virtio.queue.VirtqueueError.IndirectNotNegotiated;
import dev.panvm.virtio.queue.VirtqueueError.IndirectTableOutsideMemory;
import dev.panvm.virtio.queue.VirtqueueError.IndirectWithNext;
import dev.panvm.virtio.queue.VirtqueueError.InvalidIndirectTableLength;
import dev.panvm.virtio.queue.VirtqueueError.InvalidQueueSize;
import dev.panvm.virtio.queue.VirtqueueError.NestedIndirect;
import dev.panvm.virtio.queue.VirtqueueError.NextIndexOutOfRange;
import dev.panvm.virtio.queue.VirtqueueError.ReadableAfterWritable;
import dev.panvm.virtio.queue.VirtqueueError.RingMisaligned;
import dev.panvm.virtio.queue.VirtqueueError.RingOutsideMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.List;

import static dev.panvm.virtio.queue.Descriptor.VIRTQ_DESC_F_INDIRECT;
import static dev.panvm.virtio.queue.Descriptor.VIRTQ_DESC_F_NEXT;
import static dev.panvm.virtio.queue.Descriptor.VIRTQ_DESC_F_WRITE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VirtqueueTest {
    private static final long ALL = FeatureBits.TRANSPORT_FEATURES;
    private static final long NO_INDIRECT = FeatureBits.bit(FeatureBits.VIRTIO_F_VERSION_1);

    private final SimpleGuestMemory memory = SimpleGuestMemory.ofSize(1 << 20);
    private final GuestAllocator allocator = new GuestAllocator(0x1000, 1 << 20);

    @AfterEach
    void close() {
        assertEquals(0, memory.rejectedSlices(), "the queue asked for memory outside guest RAM");
        memory.close();
    }

    private MockSplitQueue driver(int size) {
        return new MockSplitQueue(memory, allocator, size);
    }

    private Virtqueue device(MockSplitQueue driver, long features) {
        Virtqueue q = new Virtqueue(256);
        driver.configure(q);
        assertTrue(q.activate(memory, features).isEmpty());
        return q;
    }

    private static DescriptorChain chain(PopResult r) {
        return assertInstanceOf(DescriptorChain.class, r);
    }

    @Test
    void hasAvailableTracksTheAvailIdxWithoutPopping() {
        MockSplitQueue d = driver(16);
        Virtqueue q = device(d, ALL);
        assertFalse(q.hasAvailable());
        d.addChain(List.of(d.writable(8)));
        assertTrue(q.hasAvailable());
        assertTrue(q.hasAvailable(), "asking twice does not consume the chain");
        chain(q.pop());
        assertFalse(q.hasAvailable());
    }

    @Test
    void popsADirectChainWithReadableAndWritableBuffers() {
        MockSplitQueue d = driver(16);
        Virtqueue q = device(d, ALL);
        BufferElement header = d.readable(new byte[16]);
        BufferElement data = d.writable(512);
        BufferElement status = d.writable(1);
        int head = d.addChain(List.of(header, data, status));

        DescriptorChain c = chain(q.pop());
        assertEquals(head, c.headIndex());
        assertEquals(List.of(header, data, status), c.elements());
        assertEquals(16, c.readable().length());
        assertEquals(513, c.writable().length());
        assertInstanceOf(PopResult.Empty.class, q.pop());
    }

    @Test
    void popsAnIndirectChain() {
        MockSplitQueue d = driver(16);
        Virtqueue q = device(d, ALL);
        List<BufferElement> buffers = List.of(d.readable(new byte[16]), d.writable(4096), d.writable(1));
        int head = d.addIndirectChain(buffers);

        DescriptorChain c = chain(q.pop());
        assertEquals(head, c.headIndex());
        assertEquals(buffers, c.elements());
    }

    @Test
    void followsDirectDescriptorsIntoATrailingIndirectTable() {
        // 2.7.5.3.2: zero or more direct descriptors, then one indirect descriptor.
        MockSplitQueue d = driver(16);
        Virtqueue q = device(d, ALL);
        BufferElement first = d.readable(new byte[8]);
        List<BufferElement> rest = List.of(d.readable(new byte[8]), d.writable(8));
        long table = d.writeIndirectTable(rest);
        d.writeDescriptor(3, new Descriptor(first.address(), 8, VIRTQ_DESC_F_NEXT, 7));
        // The WRITE flag of the descriptor naming the table is ignored.
        d.writeDescriptor(7, new Descriptor(table, 32, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE, 0));
        d.publish(3);

        assertEquals(List.of(first, rest.get(0), rest.get(1)), chain(q.pop()).elements());
    }

    @Test
    void refusesIndirectDescriptorsUnlessNegotiated() {
        MockSplitQueue d = driver(16);
        Virtqueue q = device(d, NO_INDIRECT);
        int head = d.addIndirectChain(List.of(d.writable(8)));
        assertEquals(new IndirectNotNegotiated(head), q.pop());
    }

    @Test
    void refusesNestedIndirectTables() {
        MockSplitQueue d = driver(16);
        Virtqueue q = device(d, ALL);
        long inner = d.writeIndirectTable(List.of(d.writable(8)));
        long outer = d.allocator().allocate(16, 16);
        new Descriptor(inner, 16, VIRTQ_DESC_F_INDIRECT, 0).write(memory.slice(outer, 16), 0);
        d.writeDescriptor(0, new Descriptor(outer, 16, VIRTQ_DESC_F_INDIRECT, 0));
        d.publish(0);
        assertEquals(new NestedIndirect(0), q.pop());
    }

    @Test
    void refusesIndirectWithNext() {
        MockSplitQueue d = driver(16);
        Virtqueue q = device(d, ALL);
        long table = d.writeIndirectTable(List.of(d.writable(8)));
        d.writeDescriptor(0, new Descriptor(table, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1));
        d.publish(0);
        assertEquals(new IndirectWithNext(0), q.pop());
    }

    @Test
    void refusesIndirectTablesOfBadLength() {
        MockSplitQueue d = driver(16);
        Virtqueue q = device(d, ALL);
        long table = d.writeIndirectTable(List.of(d.writable(8), d.writable(8)));
        for (long length : new long[] {0, 8, 17, 31}) {
            d.writeDescriptor(0, new Descriptor(table, length, VIRTQ_DESC_F_INDIRECT, 0));
            d.publish(0);
            assertEquals(new InvalidIndirectTableLength(0, length), q.pop());
        }
        d.writeDescriptor(0, new Descriptor(table, 16L * 65537, VIRTQ_DESC_F_INDIRECT, 0));
        d.publish(0);
        assertEquals(new InvalidIndirectTableLength(0, 16L * 65537), q.pop());
    }

    @Test
    void refusesIndirectTablesOutsideMemory() {
        MockSplitQueue d = driver(16);
        Virtqueue q = device(d, ALL);
        d.writeDescriptor(0, new Descriptor((1 << 20) - 16, 32, VIRTQ_DESC_F_INDIRECT, 0));
        d.publish(0);
        assertEquals(new IndirectTableOutsideMemory(0, (1 << 20) - 16, 32), q.pop());
    }

    @Test
    void detectsALoopInTheDescriptorTable() {
        MockSplitQueue d = driver(8);
        Virtqueue q = device(d, ALL);
        BufferElement b = d.readable(new byte[4]);
        d.writeDescriptor(0, new Descriptor(b.address(), 4, VIRTQ_DESC_F_NEXT, 1));
        d.writeDescriptor(1, new Descriptor(b.address(), 4, VIRTQ_DESC_F_NEXT, 2));
        d.writeDescriptor(2, new Descriptor(b.address(), 4, VIRTQ_DESC_F_NEXT, 0));
        d.publish(0);
        // Eight steps through a table of eight entries without an end can only be a loop.
        PopResult r = q.pop();
        assertTrue(r instanceof DescriptorLoop || r instanceof ChainTooLong, r.toString());
        // The chain is done with; the queue works on.
        int head = d.addChain(List.of(d.writable(4)));
        assertEquals(head, chain(q.pop()).headIndex());
    }

    @Test
    void detectsALoopInAnIndirectTable() {
        MockSplitQueue d = driver(16);
        Virtqueue q = device(d, ALL);
        BufferElement b = d.readable(new byte[4]);
        long table = d.allocator().allocate(32, 16);
        MemorySegment t = memory.slice(table, 32);
        new Descriptor(b.address(), 4, VIRTQ_DESC_F_NEXT, 1).write(t, 0);
        new Descriptor(b.address(), 4, VIRTQ_DESC_F_NEXT, 0).write(t, 1);
        d.writeDescriptor(5, new Descriptor(table, 32, VIRTQ_DESC_F_INDIRECT, 0));
        d.publish(5);
        assertEquals(new DescriptorLoop(5), q.pop());
    }

    @Test
    void refusesChainsLongerThanTheQueue() {
        MockSplitQueue d = driver(4);
        Virtqueue q = device(d, ALL);
        List<BufferElement> five = List.of(d.writable(1), d.writable(1), d.writable(1), d.writable(1), d.writable(1));
        long table = d.writeIndirectTable(five);
        d.writeDescriptor(0, new Descriptor(table, 16 * 5, VIRTQ_DESC_F_INDIRECT, 0));
        d.publish(0);
        assertEquals(new ChainTooLong(0, 4), q.pop());
    }

    @Test
    void refusesNextIndicesBeyondTheTable() {
        MockSplitQueue d = driver(8);
        Virtqueue q = device(d, ALL);
        BufferElement b = d.readable(new byte[4]);
        d.writeDescriptor(0, new Descriptor(b.address(), 4, VIRTQ_DESC_F_NEXT, 8));
        d.publish(0);
        assertEquals(new NextIndexOutOfRange(0, 8, 8), q.pop());
    }

    @Test
    void refusesBuffersOutsideGuestMemory() {
        MockSplitQueue d = driver(8);
        Virtqueue q = device(d, ALL);
        long[][] bad = {{(1 << 20) - 4, 8}, {1 << 20, 1}, {-1L, 1}, {Long.MAX_VALUE, 2}, {0x10, 0xffff_ffffL}};
        for (long[] range : bad) {
            d.writeDescriptor(0, new Descriptor(range[0], range[1], VIRTQ_DESC_F_WRITE, 0));
            d.publish(0);
            assertEquals(new BufferOutsideMemory(0, range[0], range[1]), q.pop());
        }
    }

    @Test
    void refusesReadableAfterWritable() {
        MockSplitQueue d = driver(8);
        Virtqueue q = device(d, ALL);
        int head = d.addChain(List.of(d.writable(4), d.readable(new byte[4])));
        assertEquals(new ReadableAfterWritable(head), q.pop());
    }

    @Test
    void refusesChainsOfMoreThanFourGigabytes() {
        // A guest with a lot of RAM (only the first MiB is real; the parser never touches buffers).
        GuestMemory sparse = new GuestMemory() {
            @Override
            public boolean contains(long gpa, long length) {
                return length >= 0 && gpa >= 0 && gpa <= (1L << 40) - length;
            }

            @Override
            public MemorySegment slice(long gpa, long length) {
                return memory.slice(gpa, length);
            }
        };
        MockSplitQueue d = driver(8);
        Virtqueue q = new Virtqueue(8);
        d.configure(q);
        assertTrue(q.activate(sparse, ALL).isEmpty());
        d.writeDescriptor(0, new Descriptor(1L << 32, 0xffff_ffffL, VIRTQ_DESC_F_NEXT, 1));
        d.writeDescriptor(1, new Descriptor(1L << 33, 2, 0, 0));
        d.publish(0);
        assertEquals(new ChainTooLarge(0), q.pop());
    }

    @Test
    void anAvailIdxTooFarAheadBreaksTheQueue() {
        MockSplitQueue d = driver(8);
        Virtqueue q = device(d, ALL);
        d.setAvailIdx(9);
        PopResult r = q.pop();
        assertEquals(new AvailIndexTooFarAhead(9, 0, 8), r);
        assertFalse(q.isActive());
        // It stays broken until reset.
        d.setAvailIdx(1);
        assertEquals(r, q.pop());
    }

    @Test
    void aHeadIndexBeyondTheTableBreaksTheQueue() {
        MockSplitQueue d = driver(8);
        Virtqueue q = device(d, ALL);
        d.publish(8);
        assertEquals(new HeadIndexOutOfRange(8, 8), q.pop());
    }

    @Test
    void indicesWrapAroundAt65536() {
        MockSplitQueue d = driver(4);
        Virtqueue q = device(d, ALL);
        BufferElement b = d.writable(4);
        for (int i = 0; i < 65536 + 10; i++) {
            int head = d.addChain(List.of(b));
            DescriptorChain c = chain(q.pop());
            assertEquals(head, c.headIndex());
            q.addUsed(c.headIndex(), i & 0xff);
            assertEquals(List.of(new MockSplitQueue.UsedElement(head, i & 0xff)), d.takeUsed());
            assertInstanceOf(PopResult.Empty.class, q.pop());
        }
        assertEquals(10, d.availIdx());
        assertEquals(10, q.nextAvail());
        assertEquals(10, d.usedIdx());
    }

    @Test
    void aFullRingAcrossTheWrapIsNotTooFarAhead() {
        MockSplitQueue d = driver(4);
        d.startIndicesAt(65534);
        Virtqueue q = device(d, ALL);
        // The device's own count starts at 0; bring it to where the driver's is.
        q.undoPop();
        q.undoPop();
        for (int i = 0; i < 4; i++) {
            d.addChain(List.of(d.writable(4)));
        }
        assertEquals(2, d.availIdx());
        for (int i = 0; i < 4; i++) {
            chain(q.pop());
        }
        assertInstanceOf(PopResult.Empty.class, q.pop());
    }

    @Test
    void writesUsedElementsAndIdx() {
        MockSplitQueue d = driver(4);
        Virtqueue q = device(d, ALL);
        for (int i = 0; i < 10; i++) {
            int head = d.addChain(List.of(d.writable(8)));
            q.addUsed(chain(q.pop()).headIndex(), i);
            assertEquals(List.of(new MockSplitQueue.UsedElement(head, i)), d.takeUsed());
        }
        assertEquals(10, d.usedIdx());
    }

    @Test
    void withoutEventIdxTheNoInterruptFlagSuppressesNotifications() {
        MockSplitQueue d = driver(4);
        Virtqueue q = device(d, NO_INDIRECT);
        d.addChain(List.of(d.writable(8)));
        q.addUsed(chain(q.pop()).headIndex(), 8);
        assertTrue(q.needsNotification());
        assertFalse(q.needsNotification(), "nothing new since the last check");

        d.setAvailFlags(Virtqueue.VIRTQ_AVAIL_F_NO_INTERRUPT);
        d.takeUsed();
        d.addChain(List.of(d.writable(8)));
        q.addUsed(chain(q.pop()).headIndex(), 8);
        assertFalse(q.needsNotification());
    }

    @Test
    void withEventIdxNotifiesOnlyWhenUsedIdxPassesUsedEvent() {
        MockSplitQueue d = driver(8);
        Virtqueue q = device(d, ALL);
        // The driver wants to hear when the used idx passes 2 (i.e. after the third buffer).
        d.setUsedEvent(2);
        // The flag is ignored with EVENT_IDX (2.7.7.2).
        d.setAvailFlags(Virtqueue.VIRTQ_AVAIL_F_NO_INTERRUPT);
        for (int i = 0; i < 3; i++) {
            d.addChain(List.of(d.writable(8)));
        }
        q.addUsed(chain(q.pop()).headIndex(), 0);
        assertTrue(q.needsNotification(), "the first check always notifies");
        q.addUsed(chain(q.pop()).headIndex(), 0);
        assertFalse(q.needsNotification(), "used idx 2 has not passed used_event 2");
        q.addUsed(chain(q.pop()).headIndex(), 0);
        assertTrue(q.needsNotification(), "used idx 3 passed used_event 2");
    }

    @Test
    void vringNeedEventMatchesTheFormula() {
        assertTrue(Virtqueue.vringNeedEvent(0, 1, 0));
        assertFalse(Virtqueue.vringNeedEvent(1, 1, 0));
        assertTrue(Virtqueue.vringNeedEvent(1, 2, 0));
        assertTrue(Virtqueue.vringNeedEvent(65535, 0, 65535), "across the wrap");
        assertFalse(Virtqueue.vringNeedEvent(5, 3, 1));
    }

    @Test
    void availEventAndNoNotifyFlagTellTheDriverWhenToKick() {
        MockSplitQueue d = driver(8);
        Virtqueue q = device(d, ALL);
        d.addChain(List.of(d.writable(8)));
        q.disableNotification();
        assertEquals(0, d.usedFlags(), "with EVENT_IDX the flags stay 0");
        chain(q.pop());
        assertFalse(q.enableNotification());
        assertEquals(1, d.availEvent(), "kick me when you add the next chain");
        d.addChain(List.of(d.writable(8)));
        assertTrue(q.enableNotification(), "a chain arrived meanwhile");

        MockSplitQueue d2 = driver(8);
        Virtqueue q2 = device(d2, NO_INDIRECT);
        q2.disableNotification();
        assertEquals(1, d2.usedFlags());
        assertFalse(q2.enableNotification());
        assertEquals(0, d2.usedFlags());
    }

    @Test
    void undoPopReturnsTheSameChain() {
        MockSplitQueue d = driver(8);
        Virtqueue q = device(d, ALL);
        int head = d.addChain(List.of(d.writable(8)));
        chain(q.pop());
        q.undoPop();
        assertEquals(head, chain(q.pop()).headIndex());
    }

    @Test
    void activationChecksSizeRingsAndAlignment() {
        MockSplitQueue d = driver(8);
        Virtqueue q = new Virtqueue(8);
        d.configure(q);
        q.setSize(6);
        assertEquals(new InvalidQueueSize(6, 8), q.activate(memory, ALL).orElseThrow());
        q.reset();
        d.configure(q);
        q.setSize(16);
        assertInstanceOf(InvalidQueueSize.class, q.activate(memory, ALL).orElseThrow());
        q.reset();
        d.configure(q);
        q.setUsedRingAddress((1 << 20) - 8);
        assertEquals(new RingOutsideMemory(VirtqueuePart.USED_RING, (1 << 20) - 8, 6 + 8 * 8),
                q.activate(memory, ALL).orElseThrow());
        q.reset();
        d.configure(q);
        q.setDescriptorTableAddress(d.descriptorTableAddress() + 8);
        assertEquals(new RingMisaligned(VirtqueuePart.DESCRIPTOR_TABLE, d.descriptorTableAddress() + 8),
                q.activate(memory, ALL).orElseThrow());
        assertInstanceOf(RingMisaligned.class, q.pop(), "a broken queue keeps reporting its error");
    }

    @Test
    void theReCheckAfterEnablingNotificationsAppliesPopsRules() {
        MockSplitQueue d = driver(8);
        Virtqueue q = device(d, NO_INDIRECT);
        d.addChain(List.of(d.writable(8)));
        q.disableNotification();
        chain(q.pop());
        // The avail idx moves back (2.7.6: a driver never does that; aliasing rings can): pop
        // would see 65535 chains in a ring of 8. The re-check must not report work pop refuses
        // to hand out (a drain loop that never ended); it reports the error pop then returns.
        d.setAvailIdx(0);
        assertTrue(q.enableNotification());
        assertFalse(q.isActive());
        assertInstanceOf(AvailIndexTooFarAhead.class, q.pop());
        assertFalse(q.enableNotification(), "a broken queue has nothing more to say");

        MockSplitQueue d2 = driver(8);
        Virtqueue q2 = device(d2, NO_INDIRECT);
        d2.setAvailIdx(9);
        assertTrue(q2.hasAvailable(), "an idx out of range is something for the device to report");
        assertInstanceOf(AvailIndexTooFarAhead.class, q2.error().orElseThrow());
        assertInstanceOf(AvailIndexTooFarAhead.class, q2.pop());
    }

    @Test
    void findsAUsedRingOverlappingAnyRing() {
        MockSplitQueue a = driver(16);
        MockSplitQueue b = driver(16);
        Virtqueue qa = new Virtqueue(16);
        Virtqueue qb = new Virtqueue(16);
        a.configure(qa);
        b.configure(qb);
        assertTrue(Virtqueue.findOverlap(List.of(qa, qb)).isEmpty(), "separate rings");

        // used.flags over avail.idx: every NO_NOTIFY toggle would move the driver's idx.
        qa.setUsedRingAddress(a.availableRingAddress() + 2);
        assertEquals(new VirtqueueError.RingsOverlap(0, 0, VirtqueuePart.AVAILABLE_RING, a.availableRingAddress()),
                Virtqueue.findOverlap(List.of(qa, qb)).orElseThrow());
        // Over another queue's descriptor table.
        a.configure(qa);
        qa.setUsedRingAddress(b.descriptorTableAddress() + 16);
        assertEquals(new VirtqueueError.RingsOverlap(0, 1, VirtqueuePart.DESCRIPTOR_TABLE, b.descriptorTableAddress()),
                Virtqueue.findOverlap(List.of(qa, qb)).orElseThrow());
        // A queue that is not ready does not count.
        qb.setReady(false);
        assertTrue(Virtqueue.findOverlap(List.of(qa, qb)).isEmpty());
        // Parts only the driver writes may overlap: nothing the device writes lands there.
        a.configure(qa);
        qa.setAvailableRingAddress(a.descriptorTableAddress());
        assertTrue(Virtqueue.findOverlap(List.of(qa)).isEmpty());
        // Adjacent is fine.
        a.configure(qa);
        qa.setUsedRingAddress(a.availableRingAddress() + VirtqueuePart.AVAILABLE_RING.size(16) + 2);
        assertTrue(Virtqueue.findOverlap(List.of(qa)).isEmpty());
    }

    @Test
    void anInactiveQueueIsEmpty() {
        Virtqueue q = new Virtqueue(8);
        assertInstanceOf(PopResult.Empty.class, q.pop());
        assertFalse(q.needsNotification());
        assertFalse(q.enableNotification());
    }
}
