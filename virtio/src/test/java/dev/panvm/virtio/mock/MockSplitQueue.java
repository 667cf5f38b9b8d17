package dev.panvm.virtio.mock;

import dev.panvm.virtio.LittleEndian;
import dev.panvm.virtio.SimpleGuestMemory;
import dev.panvm.virtio.queue.BufferElement;
import dev.panvm.virtio.queue.Descriptor;
import dev.panvm.virtio.queue.Virtqueue;
import dev.panvm.virtio.queue.VirtqueuePart;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The driver side of a split virtqueue in guest memory, after rust-vmm virtio-queue's
 * {@code MockSplitQueue}: it lays out the descriptor table and the two rings, builds direct and
 * indirect chains, publishes them in the available ring and reads back the used ring. Every
 * device test drives its device through one of these instead of hand-building rings.
 */
public final class MockSplitQueue {
    private static final long AVAIL_IDX = 2;
    private static final long AVAIL_RING = 4;
    private static final long USED_IDX = 2;
    private static final long USED_RING = 4;

    /** An entry of the used ring: the chain's head and the length the device wrote. */
    public record UsedElement(int id, long length) {
    }

    private final SimpleGuestMemory memory;
    private final GuestAllocator allocator;
    private final int size;
    private final long descTableAddress;
    private final long availRingAddress;
    private final long usedRingAddress;
    private final MemorySegment descTable;
    private final MemorySegment availRing;
    private final MemorySegment usedRing;
    private final Deque<Integer> freeDescriptors = new ArrayDeque<>();
    private final Map<Integer, List<Integer>> chainsInFlight = new HashMap<>();
    private int lastSeenUsed;

    public MockSplitQueue(SimpleGuestMemory memory, GuestAllocator allocator, int size) {
        this.memory = memory;
        this.allocator = allocator;
        this.size = size;
        this.descTableAddress = allocator.allocate(VirtqueuePart.DESCRIPTOR_TABLE.size(size), 16);
        this.availRingAddress = allocator.allocate(VirtqueuePart.AVAILABLE_RING.size(size), 2);
        this.usedRingAddress = allocator.allocate(VirtqueuePart.USED_RING.size(size), 4);
        this.descTable = memory.slice(descTableAddress, VirtqueuePart.DESCRIPTOR_TABLE.size(size));
        this.availRing = memory.slice(availRingAddress, VirtqueuePart.AVAILABLE_RING.size(size));
        this.usedRing = memory.slice(usedRingAddress, VirtqueuePart.USED_RING.size(size));
        descTable.fill((byte) 0);
        availRing.fill((byte) 0);
        usedRing.fill((byte) 0);
        for (int i = 0; i < size; i++) {
            freeDescriptors.add(i);
        }
    }

    public int size() {
        return size;
    }

    public long descriptorTableAddress() {
        return descTableAddress;
    }

    public long availableRingAddress() {
        return availRingAddress;
    }

    public long usedRingAddress() {
        return usedRingAddress;
    }

    public SimpleGuestMemory memory() {
        return memory;
    }

    public GuestAllocator allocator() {
        return allocator;
    }

    /** Configures a device-side queue with this layout, as a driver would through the transport. */
    public void configure(Virtqueue q) {
        q.setSize(size);
        q.setDescriptorTableAddress(descTableAddress);
        q.setAvailableRingAddress(availRingAddress);
        q.setUsedRingAddress(usedRingAddress);
        q.setReady(true);
    }

    // ---- buffers ----

    /** Allocates a guest buffer of {@code length} bytes, device-readable or -writable. */
    public BufferElement buffer(long length, boolean writable) {
        return new BufferElement(allocator.allocate(Math.max(length, 1)), length, writable);
    }

    /** A device-readable buffer holding {@code bytes}. */
    public BufferElement readable(byte[] bytes) {
        BufferElement b = buffer(bytes.length, false);
        MemorySegment.copy(MemorySegment.ofArray(bytes), 0, memory.slice(b.address(), b.length()), 0, b.length());
        return b;
    }

    public BufferElement writable(long length) {
        return buffer(length, true);
    }

    /** The contents of a buffer. */
    public byte[] contents(BufferElement b) {
        return memory.slice(b.address(), b.length()).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
    }

    // ---- descriptors and chains ----

    public void writeDescriptor(int index, Descriptor d) {
        d.write(descTable, index);
    }

    /** Builds a chain of direct descriptors from free table entries and makes it available; returns its head. */
    public int addChain(List<BufferElement> buffers) {
        int head = buildChain(buffers);
        publish(head);
        return head;
    }

    /** Builds a chain without publishing it. */
    public int buildChain(List<BufferElement> buffers) {
        if (buffers.isEmpty() || buffers.size() > freeDescriptors.size()) {
            throw new IllegalStateException("no room for a chain of " + buffers.size());
        }
        List<Integer> indices = new ArrayList<>();
        for (int i = 0; i < buffers.size(); i++) {
            indices.add(freeDescriptors.poll());
        }
        for (int i = 0; i < buffers.size(); i++) {
            BufferElement b = buffers.get(i);
            boolean last = i == buffers.size() - 1;
            int flags = (b.writable() ? Descriptor.VIRTQ_DESC_F_WRITE : 0) | (last ? 0 : Descriptor.VIRTQ_DESC_F_NEXT);
            writeDescriptor(indices.get(i), new Descriptor(b.address(), b.length(), flags, last ? 0 : indices.get(i + 1)));
        }
        chainsInFlight.put(indices.getFirst(), indices);
        return indices.getFirst();
    }

    /**
     * Builds an indirect table for {@code buffers} (2.7.5.3) and makes available a chain of one
     * descriptor pointing to it; returns the head.
     */
    public int addIndirectChain(List<BufferElement> buffers) {
        long table = writeIndirectTable(buffers);
        int head = freeDescriptors.poll();
        writeDescriptor(head, new Descriptor(table, (long) Descriptor.SIZE * buffers.size(), Descriptor.VIRTQ_DESC_F_INDIRECT, 0));
        chainsInFlight.put(head, List.of(head));
        publish(head);
        return head;
    }

    /** Writes an indirect table chaining {@code buffers} in order; returns its address. */
    public long writeIndirectTable(List<BufferElement> buffers) {
        long table = allocator.allocate((long) Descriptor.SIZE * buffers.size(), 16);
        MemorySegment t = memory.slice(table, (long) Descriptor.SIZE * buffers.size());
        for (int i = 0; i < buffers.size(); i++) {
            BufferElement b = buffers.get(i);
            boolean last = i == buffers.size() - 1;
            int flags = (b.writable() ? Descriptor.VIRTQ_DESC_F_WRITE : 0) | (last ? 0 : Descriptor.VIRTQ_DESC_F_NEXT);
            new Descriptor(b.address(), b.length(), flags, last ? 0 : i + 1).write(t, i);
        }
        return table;
    }

    /** Puts {@code head} into the next available ring entry and advances the available idx. */
    public void publish(int head) {
        int idx = availIdx();
        LittleEndian.putU16(availRing, AVAIL_RING + 2L * (idx % size), head);
        // 2.7.13.3.1: descriptors and ring entry before the idx that exposes them.
        VarHandle.releaseFence();
        setAvailIdx(idx + 1);
    }

    /**
     * Whether the driver must notify the device after moving the available idx from
     * {@code oldIdx} to the current value (2.7.10): with EVENT_IDX when it passed avail_event,
     * otherwise unless the device set VIRTQ_USED_F_NO_NOTIFY.
     */
    public boolean needsKick(int oldIdx, boolean eventIdx) {
        VarHandle.fullFence();
        if (eventIdx) {
            return Virtqueue.vringNeedEvent(availEvent(), availIdx(), oldIdx);
        }
        return (usedFlags() & 1) == 0;
    }

    /** Writes an available ring entry without touching idx. */
    public void setAvailRingEntry(int slot, int head) {
        LittleEndian.putU16(availRing, AVAIL_RING + 2L * slot, head);
    }

    public int availIdx() {
        return LittleEndian.u16(availRing, AVAIL_IDX);
    }

    public void setAvailIdx(int idx) {
        LittleEndian.putU16(availRing, AVAIL_IDX, idx);
    }

    /** VIRTQ_AVAIL_F_NO_INTERRUPT = 1. */
    public void setAvailFlags(int flags) {
        LittleEndian.putU16(availRing, 0, flags);
    }

    /** used_event: the used idx at which the driver wants the next notification (2.7.7). */
    public void setUsedEvent(int usedEvent) {
        LittleEndian.putU16(availRing, AVAIL_RING + 2L * size, usedEvent);
    }

    // ---- used ring ----

    public int usedIdx() {
        int idx = LittleEndian.u16(usedRing, USED_IDX);
        VarHandle.acquireFence();
        return idx;
    }

    public int usedFlags() {
        return LittleEndian.u16(usedRing, 0);
    }

    /** avail_event: the avail idx at which the device wants the next notification (2.7.10). */
    public int availEvent() {
        return LittleEndian.u16(usedRing, USED_RING + 8L * size);
    }

    public UsedElement usedElement(int slot) {
        long at = USED_RING + 8L * slot;
        return new UsedElement((int) LittleEndian.u32(usedRing, at), LittleEndian.u32(usedRing, at + 4));
    }

    /** The used entries added since the last call; their descriptors go back to the free list. */
    public List<UsedElement> takeUsed() {
        List<UsedElement> out = new ArrayList<>();
        int idx = usedIdx();
        while (lastSeenUsed != idx) {
            UsedElement e = usedElement(lastSeenUsed % size);
            out.add(e);
            List<Integer> chain = chainsInFlight.remove(e.id());
            if (chain != null) {
                freeDescriptors.addAll(chain);
            }
            lastSeenUsed = (lastSeenUsed + 1) & 0xffff;
        }
        return out;
    }

    /**
     * Waits for {@code count} used entries, for a device that returns chains from other threads,
     * and returns them (all that came, if more did); fails after {@code timeout}.
     */
    public List<UsedElement> awaitUsed(int count, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        List<UsedElement> out = new ArrayList<>();
        while (true) {
            out.addAll(takeUsed());
            if (out.size() >= count) {
                return out;
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(out.size() + " of " + count + " chains came back within " + timeout);
            }
            Thread.yield(); // the device's threads may need this CPU
        }
    }

    /** Whether the device added used entries that {@link #takeUsed} has not returned yet. */
    public boolean hasNewUsed() {
        return usedIdx() != lastSeenUsed;
    }

    /** The used idx up to which {@link #takeUsed} has returned entries. */
    public int lastSeenUsed() {
        return lastSeenUsed;
    }

    /** Starts the free-running indices at {@code idx}, to test wrap-around (before any use). */
    public void startIndicesAt(int idx) {
        setAvailIdx(idx);
        LittleEndian.putU16(usedRing, USED_IDX, idx);
        lastSeenUsed = idx & 0xffff;
    }
}
