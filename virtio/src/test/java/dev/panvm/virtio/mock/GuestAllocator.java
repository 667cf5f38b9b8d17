package dev.panvm.virtio.mock;

/**
 * A bump allocator for guest-physical addresses, as a driver would carve rings and buffers out of
 * its RAM. Never frees; tests are short.
 */
public final class GuestAllocator {
    private long next;
    private final long end;

    public GuestAllocator(long start, long end) {
        this.next = start;
        this.end = end;
    }

    public long allocate(long size, long alignment) {
        long at = (next + alignment - 1) & -alignment;
        if (size < 0 || at > end || size > end - at) {
            throw new IllegalStateException("guest allocator exhausted: " + size + " bytes");
        }
        next = at + size;
        return at;
    }

    public long allocate(long size) {
        return allocate(size, 16);
    }
}
