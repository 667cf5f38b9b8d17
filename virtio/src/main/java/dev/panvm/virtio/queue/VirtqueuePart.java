package dev.panvm.virtio.queue;

/** The three parts of a split virtqueue (virtio 1.2, 2.7), with their alignment. */
public enum VirtqueuePart {
    /** The Descriptor Area. */
    DESCRIPTOR_TABLE(16),
    /** The Driver Area. */
    AVAILABLE_RING(2),
    /** The Device Area. */
    USED_RING(4);

    private final int alignment;

    VirtqueuePart(int alignment) {
        this.alignment = alignment;
    }

    public int alignment() {
        return alignment;
    }

    /** The part's size in bytes for a queue of {@code queueSize} entries (2.7, table). */
    public long size(int queueSize) {
        return switch (this) {
            case DESCRIPTOR_TABLE -> 16L * queueSize;
            case AVAILABLE_RING -> 6 + 2L * queueSize;
            case USED_RING -> 6 + 8L * queueSize;
        };
    }
}
