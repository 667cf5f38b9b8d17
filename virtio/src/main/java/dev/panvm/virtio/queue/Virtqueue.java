package dev.panvm.virtio.queue;

import dev.panvm.virtio.FeatureBits;
import dev.panvm.virtio.GuestMemory;
import dev.panvm.virtio.LittleEndian;
import dev.panvm.virtio.queue.VirtqueueError.AvailIndexTooFarAhead;
import dev.panvm.virtio.queue.VirtqueueError.HeadIndexOutOfRange;
import dev.panvm.virtio.queue.VirtqueueError.InvalidQueueSize;
import dev.panvm.virtio.queue.VirtqueueError.QueueError;
import dev.panvm.virtio.queue.VirtqueueError.RingMisaligned;
import dev.panvm.virtio.queue.VirtqueueError.RingOutsideMemory;
import dev.panvm.virtio.queue.VirtqueueError.RingsOverlap;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.List;
import java.util.Optional;

/**
 * The device side of one split virtqueue (virtio 1.2, 2.7): the configuration the driver writes
 * through the transport (size, ready, the three ring addresses), and, once activated, taking
 * chains from the available ring and returning them through the used ring.
 *
 * <p>Layout in guest memory:
 * <pre>
 *   descriptor table  16 * size         struct virtq_desc[size]
 *   available ring    6 + 2 * size      le16 flags, le16 idx, le16 ring[size], le16 used_event
 *   used ring         6 + 8 * size      le16 flags, le16 idx, {le32 id, le32 len}[size], le16 avail_event
 * </pre>
 *
 * <p>Memory ordering with the driver, which runs concurrently on other CPUs: the available idx
 * is read before anything it publishes (acquire fence after reading it, 2.7.13.3); used ring
 * entries are written before the used idx (release fence before writing it, 2.7.8.1); and the
 * notification checks, which read what the driver wrote after its own update, are preceded by a
 * full fence (2.7.7, 2.7.10), the store-load barrier the spec's "suitable memory barrier" means.
 *
 * <p>Not thread-safe: the transport configures it while the device is not running, and the
 * device uses it from one thread at a time.
 */
public final class Virtqueue {
    /** The largest Queue Size a split virtqueue can have (2.7). */
    public static final int MAX_SIZE = 32768;

    static final int VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
    static final int VIRTQ_USED_F_NO_NOTIFY = 1;

    private static final long AVAIL_IDX = 2;
    private static final long AVAIL_RING = 4;
    private static final long USED_IDX = 2;
    private static final long USED_RING = 4;

    private final int maxSize;

    // Written by the driver through the transport.
    private int size;
    private boolean ready;
    private long descTableAddress;
    private long availRingAddress;
    private long usedRingAddress;

    // Set up by activate().
    private GuestMemory memory;
    private MemorySegment descTable;
    private MemorySegment availRing;
    private MemorySegment usedRing;
    private boolean eventIdx;
    private boolean indirectDesc;
    private boolean active;
    private QueueError broken;

    // Free-running 16-bit indices (2.7.13.3): they wrap at 65536.
    private int nextAvail;
    private int nextUsed;
    private int signalledUsed;
    private boolean signalledUsedValid;

    /** A queue whose device accepts at most {@code maxSize} entries (QueueNumMax). */
    public Virtqueue(int maxSize) {
        if (maxSize < 1 || maxSize > MAX_SIZE || Integer.bitCount(maxSize) != 1) {
            throw new IllegalArgumentException("queue max size must be a power of 2 in [1, 32768]: " + maxSize);
        }
        this.maxSize = maxSize;
        reset();
    }

    // ---- configuration (transport side) ----

    public int maxSize() {
        return maxSize;
    }

    public int size() {
        return size;
    }

    /** QueueNum. Checked at {@link #activate}, where a bad value makes the queue unusable. */
    public void setSize(int size) {
        this.size = size;
    }

    public boolean isReady() {
        return ready;
    }

    public void setReady(boolean ready) {
        this.ready = ready;
    }

    public long descriptorTableAddress() {
        return descTableAddress;
    }

    public void setDescriptorTableAddress(long address) {
        this.descTableAddress = address;
    }

    public long availableRingAddress() {
        return availRingAddress;
    }

    public void setAvailableRingAddress(long address) {
        this.availRingAddress = address;
    }

    public long usedRingAddress() {
        return usedRingAddress;
    }

    public void setUsedRingAddress(long address) {
        this.usedRingAddress = address;
    }

    /**
     * Checks the driver's configuration and maps the rings; called when the driver sets
     * DRIVER_OK with this queue ready. On error the queue stays broken (every {@link #pop}
     * reports the error) until {@link #reset}.
     */
    public Optional<QueueError> activate(GuestMemory memory, long negotiatedFeatures) {
        this.memory = memory;
        this.eventIdx = FeatureBits.has(negotiatedFeatures, FeatureBits.VIRTIO_F_EVENT_IDX);
        this.indirectDesc = FeatureBits.has(negotiatedFeatures, FeatureBits.VIRTIO_F_INDIRECT_DESC);
        this.active = true;
        this.broken = validate(memory);
        if (broken == null) {
            descTable = memory.slice(descTableAddress, VirtqueuePart.DESCRIPTOR_TABLE.size(size));
            availRing = memory.slice(availRingAddress, VirtqueuePart.AVAILABLE_RING.size(size));
            usedRing = memory.slice(usedRingAddress, VirtqueuePart.USED_RING.size(size));
        }
        return Optional.ofNullable(broken);
    }

    private QueueError validate(GuestMemory memory) {
        if (size < 1 || size > maxSize || Integer.bitCount(size) != 1) {
            return new InvalidQueueSize(size, maxSize);
        }
        QueueError e = checkPart(memory, VirtqueuePart.DESCRIPTOR_TABLE, descTableAddress);
        if (e == null) {
            e = checkPart(memory, VirtqueuePart.AVAILABLE_RING, availRingAddress);
        }
        if (e == null) {
            e = checkPart(memory, VirtqueuePart.USED_RING, usedRingAddress);
        }
        return e;
    }

    private QueueError checkPart(GuestMemory memory, VirtqueuePart part, long address) {
        long length = part.size(size);
        if (!memory.contains(address, length)) {
            return new RingOutsideMemory(part, address, length);
        }
        if (address % part.alignment() != 0) {
            return new RingMisaligned(part, address);
        }
        return null;
    }

    /**
     * Finds a used ring that overlaps any ring of {@code queues} (ready queues only, sizes already
     * checked by {@link #activate}). 2.7: each part "is write-able by either the driver or the
     * device, but not both", and the used ring is "only written to by the device"; a used ring
     * over another part makes the device's own writes rewrite what the driver published (used
     * flags over avail idx: every NO_NOTIFY toggle moves the avail idx). No correct driver does
     * that, so the transport refuses it at DRIVER_OK like a misaligned ring. Overlaps between
     * parts only the driver writes are harmless to the device and left alone.
     */
    public static Optional<QueueError> findOverlap(List<Virtqueue> queues) {
        for (int i = 0; i < queues.size(); i++) {
            Virtqueue q = queues.get(i);
            if (!q.isReady()) {
                continue;
            }
            long used = q.usedRingAddress;
            long usedEnd = used + VirtqueuePart.USED_RING.size(q.size);
            for (int j = 0; j < queues.size(); j++) {
                Virtqueue o = queues.get(j);
                if (!o.isReady()) {
                    continue;
                }
                for (VirtqueuePart part : VirtqueuePart.values()) {
                    if (i == j && part == VirtqueuePart.USED_RING) {
                        continue;
                    }
                    long at = o.address(part);
                    long end = at + part.size(o.size);
                    if (at < usedEnd && used < end) {
                        return Optional.of(new RingsOverlap(i, j, part, at));
                    }
                }
            }
        }
        return Optional.empty();
    }

    private long address(VirtqueuePart part) {
        return switch (part) {
            case DESCRIPTOR_TABLE -> descTableAddress;
            case AVAILABLE_RING -> availRingAddress;
            case USED_RING -> usedRingAddress;
        };
    }

    /** Back to the state after a device reset: not ready, size = max, addresses 0, indices 0. */
    public void reset() {
        size = maxSize;
        ready = false;
        descTableAddress = 0;
        availRingAddress = 0;
        usedRingAddress = 0;
        memory = null;
        descTable = null;
        availRing = null;
        usedRing = null;
        eventIdx = false;
        indirectDesc = false;
        active = false;
        broken = null;
        nextAvail = 0;
        nextUsed = 0;
        signalledUsed = 0;
        signalledUsedValid = false;
    }

    /** True once {@link #activate} succeeded and until {@link #reset} or an error breaks the queue. */
    public boolean isActive() {
        return active && broken == null;
    }

    /** Why the queue stopped: set at {@link #activate} or when the driver's indices became garbage. */
    public Optional<QueueError> error() {
        return Optional.ofNullable(broken);
    }

    // ---- device side ----

    /**
     * Takes the next available descriptor chain, checked. Returns {@link PopResult.Empty} when
     * the driver has made nothing new available (or the queue is not active).
     */
    public PopResult pop() {
        if (!active) {
            return PopResult.EMPTY;
        }
        if (broken != null) {
            return broken;
        }
        int pending = pendingChains();
        if (pending < 0) {
            return broken;
        }
        if (pending == 0) {
            return PopResult.EMPTY;
        }
        int head = LittleEndian.u16(availRing, AVAIL_RING + 2L * (nextAvail & (size - 1)));
        if (head >= size) {
            broken = new HeadIndexOutOfRange(head, size);
            return broken;
        }
        nextAvail = (nextAvail + 1) & 0xffff;
        return DescriptorChainReader.read(memory, descTable, size, head, indirectDesc);
    }

    /**
     * How many chains the driver made available that the device has not taken, by {@link #pop}'s
     * rule, or -1 when the queue broke on it. Every "is there work?" question goes through here,
     * so no caller can see work that pop then refuses to hand out (a re-check that said "more"
     * while pop said "nothing" was a busy loop for a driver whose avail idx moved backwards).
     */
    private int pendingChains() {
        int availIdx = readAvailIdx();
        int pending = (availIdx - nextAvail) & 0xffff;
        // The driver cannot have more chains outstanding than there are ring entries; an idx
        // further ahead (or behind: 2.7.6 forbids decrementing it) is garbage, and nothing read
        // through it could be trusted.
        if (pending > size) {
            broken = new AvailIndexTooFarAhead(availIdx, nextAvail, size);
            return -1;
        }
        return pending;
    }

    /** Puts the chain most recently taken by {@link #pop} back (a net device with no frame for it). */
    public void undoPop() {
        nextAvail = (nextAvail - 1) & 0xffff;
    }

    /**
     * Returns a chain to the driver: a used ring entry with the head index and the number of
     * bytes the device wrote into the chain, then the used idx (2.7.8).
     */
    public void addUsed(int headIndex, long writtenLength) {
        if (!isActive()) {
            return;
        }
        if (headIndex < 0 || headIndex >= size || writtenLength < 0 || writtenLength > 0xffff_ffffL) {
            throw new IllegalArgumentException("used element " + headIndex + "/" + writtenLength);
        }
        long at = USED_RING + 8L * (nextUsed & (size - 1));
        LittleEndian.putU32(usedRing, at, headIndex);
        LittleEndian.putU32(usedRing, at + 4, writtenLength);
        nextUsed = (nextUsed + 1) & 0xffff;
        // 2.7.8.1: the element (and the data written into the buffers) before the idx.
        VarHandle.releaseFence();
        LittleEndian.putU16(usedRing, USED_IDX, nextUsed);
    }

    /**
     * Whether the driver wants a used buffer notification for the entries added since the
     * previous call (2.7.7): with VIRTIO_F_EVENT_IDX when the used idx passed used_event
     * ({@code vring_need_event}), otherwise unless the driver set VIRTQ_AVAIL_F_NO_INTERRUPT.
     */
    public boolean needsNotification() {
        if (!isActive()) {
            return false;
        }
        // The used idx store must be visible before the driver's suppression fields are read,
        // or a driver that just re-enabled notifications could miss this one.
        VarHandle.fullFence();
        int newUsed = nextUsed;
        int oldUsed = signalledUsed;
        boolean valid = signalledUsedValid;
        signalledUsed = newUsed;
        signalledUsedValid = true;
        if (valid && newUsed == oldUsed) {
            return false;
        }
        if (eventIdx) {
            int usedEvent = LittleEndian.u16(availRing, AVAIL_RING + 2L * size);
            return !valid || vringNeedEvent(usedEvent, newUsed, oldUsed);
        }
        return (LittleEndian.u16(availRing, 0) & VIRTQ_AVAIL_F_NO_INTERRUPT) == 0;
    }

    /**
     * The formula of {@code vring_need_event} (virtio_ring.h): notify if {@code eventIdx} lies
     * in {@code [oldIdx, newIdx)}, all modulo 2^16.
     */
    public static boolean vringNeedEvent(int eventIdx, int newIdx, int oldIdx) {
        return ((newIdx - eventIdx - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff);
    }

    /**
     * Asks the driver not to send available buffer notifications while the device is busy with
     * the queue anyway (2.7.10). With VIRTIO_F_EVENT_IDX the flags must stay 0; leaving
     * avail_event behind has the same effect.
     */
    public void disableNotification() {
        if (isActive() && !eventIdx) {
            LittleEndian.putU16(usedRing, 0, VIRTQ_USED_F_NO_NOTIFY);
        }
    }

    /**
     * Asks for available buffer notifications again, then checks whether the driver added
     * chains meanwhile: if so it returns true and the caller must process them, because the
     * driver may have decided not to notify before it saw this request. The check applies
     * {@link #pop}'s rules: true means pop returns a chain, or the queue broke and pop returns
     * the error; never "more work" that pop would not hand out.
     */
    public boolean enableNotification() {
        if (!isActive()) {
            return false;
        }
        if (eventIdx) {
            LittleEndian.putU16(usedRing, USED_RING + 8L * size, nextAvail);
        } else {
            LittleEndian.putU16(usedRing, 0, 0);
        }
        VarHandle.fullFence();
        return pendingChains() != 0;
    }

    /**
     * Whether {@link #pop} has something to hand out: a chain, or an error found now (an avail
     * idx out of range breaks the queue here, so the device's next pass reports it).
     */
    public boolean hasAvailable() {
        return isActive() && pendingChains() != 0;
    }

    private int readAvailIdx() {
        int idx = LittleEndian.u16(availRing, AVAIL_IDX);
        // 2.7.13.3: the driver published ring entries and descriptors before the idx; read them after.
        VarHandle.acquireFence();
        return idx;
    }

    /** The device's count of chains taken from the available ring, modulo 2^16. */
    public int nextAvail() {
        return nextAvail;
    }

    /** The device's used idx, modulo 2^16. */
    public int nextUsed() {
        return nextUsed;
    }

    /** Whether VIRTIO_F_EVENT_IDX applies to this queue. */
    public boolean eventIdx() {
        return eventIdx;
    }
}
