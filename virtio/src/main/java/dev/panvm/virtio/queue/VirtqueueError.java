package dev.panvm.virtio.queue;

/**
 * Everything a guest can get wrong in a split virtqueue. A {@link ChainError} spoils one chain:
 * the device returns it in the used ring with length 0 and carries on. A {@link QueueError}
 * spoils the queue itself (its rings, or indices the device cannot trust any more): the device
 * sets DEVICE_NEEDS_RESET (2.1.1) and stops using the queue until the driver resets it.
 */
public sealed interface VirtqueueError extends PopResult {

    /** One line for the log. */
    String describe();

    /** An error confined to the chain starting at {@link #headIndex()}. */
    sealed interface ChainError extends VirtqueueError {
        int headIndex();
    }

    /** An error that makes the whole queue unusable. */
    sealed interface QueueError extends VirtqueueError {
    }

    // ---- queue errors ----

    /** Queue Size is not a power of 2 between 1 and the device's maximum (2.7). */
    record InvalidQueueSize(int size, int maxSize) implements QueueError {
        public String describe() {
            return "queue size " + size + " is not a power of 2 in [1, " + maxSize + "]";
        }
    }

    /** A ring is not entirely inside guest RAM. */
    record RingOutsideMemory(VirtqueuePart part, long address, long length) implements QueueError {
        public String describe() {
            return String.format("%s at %#x+%#x is not inside guest RAM", part, address, length);
        }
    }

    /** A ring is not aligned as 2.7.1 requires. */
    record RingMisaligned(VirtqueuePart part, long address) implements QueueError {
        public String describe() {
            return String.format("%s at %#x is not %d-byte aligned", part, address, part.alignment());
        }
    }

    /**
     * Queue {@code queue}'s used ring overlaps {@code part} of queue {@code otherQueue} (the
     * same queue or another of the device's), at {@code address}: 2.7 gives every part one
     * writer, and the used ring's is the device.
     */
    record RingsOverlap(int queue, int otherQueue, VirtqueuePart part, long address) implements QueueError {
        public String describe() {
            return String.format("the used ring of queue %d overlaps the %s of queue %d at %#x",
                    queue, part, otherQueue, address);
        }
    }

    /** The available idx ran more than Queue Size entries ahead of the device (2.7.13). */
    record AvailIndexTooFarAhead(int availIdx, int nextAvail, int size) implements QueueError {
        public String describe() {
            return "avail idx " + availIdx + " is more than " + size + " ahead of " + nextAvail;
        }
    }

    /** An available ring entry names a descriptor beyond the table. */
    record HeadIndexOutOfRange(int headIndex, int size) implements QueueError {
        public String describe() {
            return "available chain head " + headIndex + " >= queue size " + size;
        }
    }

    // ---- chain errors ----

    /** A next field points beyond its table. */
    record NextIndexOutOfRange(int headIndex, int next, int tableSize) implements ChainError {
        public String describe() {
            return "chain " + headIndex + ": next " + next + " >= table size " + tableSize;
        }
    }

    /** The chain visits more descriptors than its table holds: a loop (2.7.5.2). */
    record DescriptorLoop(int headIndex) implements ChainError {
        public String describe() {
            return "chain " + headIndex + ": descriptor loop";
        }
    }

    /** The chain is longer than Queue Size (2.7.5.3.1). */
    record ChainTooLong(int headIndex, int limit) implements ChainError {
        public String describe() {
            return "chain " + headIndex + ": more than " + limit + " buffer elements";
        }
    }

    /** The chain describes more than 2^32 bytes (2.7.5.2). */
    record ChainTooLarge(int headIndex) implements ChainError {
        public String describe() {
            return "chain " + headIndex + ": more than 2^32 bytes in total";
        }
    }

    /** A buffer element is not entirely inside guest RAM. */
    record BufferOutsideMemory(int headIndex, long address, long length) implements ChainError {
        public String describe() {
            return String.format("chain %d: buffer %#x+%#x is not inside guest RAM", headIndex, address, length);
        }
    }

    /** A device-readable element follows a device-writable one (2.7.4.2). */
    record ReadableAfterWritable(int headIndex) implements ChainError {
        public String describe() {
            return "chain " + headIndex + ": device-readable buffer after a device-writable one";
        }
    }

    /** VIRTQ_DESC_F_INDIRECT without VIRTIO_F_INDIRECT_DESC negotiated (2.7.5.3.1). */
    record IndirectNotNegotiated(int headIndex) implements ChainError {
        public String describe() {
            return "chain " + headIndex + ": indirect descriptor, but VIRTIO_F_INDIRECT_DESC was not negotiated";
        }
    }

    /** VIRTQ_DESC_F_INDIRECT inside an indirect table (2.7.5.3.1). */
    record NestedIndirect(int headIndex) implements ChainError {
        public String describe() {
            return "chain " + headIndex + ": indirect descriptor inside an indirect table";
        }
    }

    /** Both VIRTQ_DESC_F_INDIRECT and VIRTQ_DESC_F_NEXT (2.7.5.3.1). */
    record IndirectWithNext(int headIndex) implements ChainError {
        public String describe() {
            return "chain " + headIndex + ": indirect descriptor with VIRTQ_DESC_F_NEXT";
        }
    }

    /** An indirect table whose length is zero, not a multiple of 16 or over 2^16 entries. */
    record InvalidIndirectTableLength(int headIndex, long length) implements ChainError {
        public String describe() {
            return "chain " + headIndex + ": indirect table of " + length + " bytes";
        }
    }

    /** An indirect table not entirely inside guest RAM. */
    record IndirectTableOutsideMemory(int headIndex, long address, long length) implements ChainError {
        public String describe() {
            return String.format("chain %d: indirect table %#x+%#x is not inside guest RAM", headIndex, address, length);
        }
    }
}
