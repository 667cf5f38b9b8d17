package dev.panvm.virtio;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Guest RAM in plain off-heap memory, for tests and tools (the mock driver, property tests,
 * benchmarks of the device models). The running VMM uses its own mmap-backed implementation.
 *
 * <p>It counts the {@link #slice} calls that asked for a range outside RAM
 * ({@link #rejectedSlices()}): device code is expected to check ranges with {@link #contains}
 * first, so a test can assert that a hostile guest never made a device ask for host memory
 * outside guest RAM.
 */
public final class SimpleGuestMemory implements GuestMemory, AutoCloseable {

    /** One contiguous range of guest-physical RAM. */
    public record Region(long guestAddress, long size) {
        public Region {
            if (guestAddress < 0 || size <= 0 || guestAddress > Long.MAX_VALUE - size) {
                throw new IllegalArgumentException("bad region " + guestAddress + "+" + size);
            }
        }
    }

    private record Backed(long guestAddress, MemorySegment host) {
        boolean contains(long gpa, long length) {
            long size = host.byteSize();
            return length >= 0 && gpa >= guestAddress && length <= size && gpa - guestAddress <= size - length;
        }
    }

    private final Arena arena = Arena.ofShared();
    private final List<Backed> regions;
    private final AtomicLong rejectedSlices = new AtomicLong();

    private SimpleGuestMemory(List<Region> layout) {
        List<Backed> backed = new ArrayList<>();
        for (Region r : layout) {
            backed.add(new Backed(r.guestAddress(), arena.allocate(r.size(), 4096)));
        }
        this.regions = List.copyOf(backed);
    }

    /** One zero-filled region at guest-physical address 0. */
    public static SimpleGuestMemory ofSize(long size) {
        return new SimpleGuestMemory(List.of(new Region(0, size)));
    }

    /** Zero-filled regions at the given guest-physical addresses (they must not overlap). */
    public static SimpleGuestMemory of(Region... regions) {
        return new SimpleGuestMemory(List.of(regions));
    }

    @Override
    public boolean contains(long gpa, long length) {
        for (Backed r : regions) {
            if (r.contains(gpa, length)) {
                return true;
            }
        }
        return false;
    }

    @Override
    public MemorySegment slice(long gpa, long length) {
        for (Backed r : regions) {
            if (r.contains(gpa, length)) {
                return r.host().asSlice(gpa - r.guestAddress(), length);
            }
        }
        rejectedSlices.incrementAndGet();
        throw new GuestMemoryException(String.format("guest range %#x+%#x is not inside guest RAM", gpa, length));
    }

    /** How many {@link #slice} calls asked for a range outside guest RAM. */
    public long rejectedSlices() {
        return rejectedSlices.get();
    }

    @Override
    public void close() {
        arena.close();
    }
}
