package dev.panvm.virtio.queue;

import dev.panvm.virtio.GuestMemory;
import dev.panvm.virtio.queue.VirtqueueError.ChainTooLarge;
import dev.panvm.virtio.queue.VirtqueueError.ChainTooLong;
import dev.panvm.virtio.queue.VirtqueueError.BufferOutsideMemory;
import dev.panvm.virtio.queue.VirtqueueError.DescriptorLoop;
import dev.panvm.virtio.queue.VirtqueueError.IndirectNotNegotiated;
import dev.panvm.virtio.queue.VirtqueueError.IndirectTableOutsideMemory;
import dev.panvm.virtio.queue.VirtqueueError.IndirectWithNext;
import dev.panvm.virtio.queue.VirtqueueError.InvalidIndirectTableLength;
import dev.panvm.virtio.queue.VirtqueueError.NestedIndirect;
import dev.panvm.virtio.queue.VirtqueueError.NextIndexOutOfRange;
import dev.panvm.virtio.queue.VirtqueueError.ReadableAfterWritable;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * Walks one descriptor chain from its head (virtio 1.2, 2.7.5) and checks everything the guest
 * wrote: every index inside its table, every buffer and indirect table inside guest RAM, no
 * loops, at most Queue Size elements and 2^32 bytes, device-readable before device-writable,
 * and the indirect-descriptor rules of 2.7.5.3. Each descriptor is read exactly once, so a guest
 * rewriting the table while the device reads it cannot make a checked value change afterwards.
 */
final class DescriptorChainReader {
    private static final long MAX_CHAIN_BYTES = 1L << 32;
    /** Indices are 16 bits wide, so a table of more entries could not be addressed. */
    private static final long MAX_INDIRECT_ENTRIES = 1 << 16;

    private DescriptorChainReader() {
    }

    /**
     * Reads the chain starting at {@code head} of {@code descTable} (a bounds-checked slice of
     * {@code queueSize} descriptors).
     */
    static PopResult read(GuestMemory memory, MemorySegment descTable, int queueSize, int head, boolean indirectAllowed) {
        List<BufferElement> elements = new ArrayList<>();
        MemorySegment table = descTable;
        int tableSize = queueSize;
        boolean inIndirect = false;
        int visited = 0;       // descriptors read from the current table: more than it holds means a loop
        int index = head;
        long totalBytes = 0;
        boolean seenWritable = false;

        while (true) {
            if (index >= tableSize) {
                return new NextIndexOutOfRange(head, index, tableSize);
            }
            if (++visited > tableSize) {
                return new DescriptorLoop(head);
            }
            Descriptor d = Descriptor.read(table, index);

            if (d.isIndirect()) {
                // 2.7.5.3: zero or more direct descriptors may precede one indirect descriptor,
                // which ends the direct part of the chain; its WRITE flag is ignored.
                if (!indirectAllowed) {
                    return new IndirectNotNegotiated(head);
                }
                if (inIndirect) {
                    return new NestedIndirect(head);
                }
                if (d.hasNext()) {
                    return new IndirectWithNext(head);
                }
                long entries = d.length() / Descriptor.SIZE;
                if (d.length() == 0 || d.length() % Descriptor.SIZE != 0 || entries > MAX_INDIRECT_ENTRIES) {
                    return new InvalidIndirectTableLength(head, d.length());
                }
                if (!memory.contains(d.address(), d.length())) {
                    return new IndirectTableOutsideMemory(head, d.address(), d.length());
                }
                table = memory.slice(d.address(), d.length());
                tableSize = (int) entries;
                inIndirect = true;
                visited = 0;
                index = 0;
                continue;
            }

            boolean writable = d.isWriteOnly();
            if (!writable && seenWritable) {
                return new ReadableAfterWritable(head);
            }
            seenWritable |= writable;
            if (!memory.contains(d.address(), d.length())) {
                return new BufferOutsideMemory(head, d.address(), d.length());
            }
            totalBytes += d.length();
            if (totalBytes > MAX_CHAIN_BYTES) {
                return new ChainTooLarge(head);
            }
            elements.add(new BufferElement(d.address(), d.length(), writable));
            if (elements.size() > queueSize) {
                return new ChainTooLong(head, queueSize);
            }
            if (!d.hasNext()) {
                return new DescriptorChain(head, elements);
            }
            index = d.next();
        }
    }
}
