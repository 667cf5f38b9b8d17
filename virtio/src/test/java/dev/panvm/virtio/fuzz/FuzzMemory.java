package dev.panvm.virtio.fuzz;

import dev.panvm.virtio.GuestMemory;
import dev.panvm.virtio.SimpleGuestMemory;
import dev.panvm.virtio.SimpleGuestMemory.Region;

import java.lang.foreign.MemorySegment;

/**
 * Guest RAM for the fuzz targets: 64 KiB at 0 and 8 KiB at 1 MiB, so that a hole and two region
 * ends lie within reach of fuzzed addresses. Allocated once per target class and zeroed before
 * each input (a shared arena's close costs more than an input).
 *
 * <p>Two oracles live here. Out of RAM: a device {@link #slice} of a range outside RAM throws
 * (as the vmm's memory does) and is counted by {@link #rejectedSlices()}, which must not move.
 * Liveness: every {@link #contains}/{@link #slice} the device makes counts against the budget of
 * the entry point in progress ({@link Liveness#entry}); a device that loops over guest memory
 * without end fails with {@link Watchdog.LivenessError} instead of hanging the fuzzer.
 *
 * <p>The driver side (the fuzz harness) reads and writes through {@link #driver}, which is not
 * counted and never asks for a range outside RAM.
 */
final class FuzzMemory implements GuestMemory {
    static final long LOW = 0;
    static final long LOW_SIZE = 0x10000;
    static final long HIGH = 0x100000;
    static final long HIGH_SIZE = 0x2000;

    private final SimpleGuestMemory ram = SimpleGuestMemory.of(new Region(LOW, LOW_SIZE), new Region(HIGH, HIGH_SIZE));
    private long accesses;
    private long budget = Long.MAX_VALUE;

    @Override
    public boolean contains(long gpa, long length) {
        step();
        return ram.contains(gpa, length);
    }

    @Override
    public MemorySegment slice(long gpa, long length) {
        step();
        return ram.slice(gpa, length);
    }

    private void step() {
        if (++accesses > budget) {
            long n = accesses;
            budget = Long.MAX_VALUE; // report once; the stack unwinds through the device
            throw new Watchdog.LivenessError("more than " + (n - 1) + " guest memory accesses in one entry point");
        }
    }

    /** Starts an entry point's budget of device accesses. */
    void startBudget(long maxAccesses) {
        accesses = 0;
        budget = maxAccesses;
    }

    void endBudget() {
        budget = Long.MAX_VALUE;
    }

    /** Device slices outside RAM so far (cumulative over the JVM: compare before and after). */
    long rejectedSlices() {
        return ram.rejectedSlices();
    }

    /** RAM as the test's own driver sees it; never counted. */
    boolean inRam(long gpa, long length) {
        return ram.contains(gpa, length);
    }

    /** The driver's view of {@code [gpa, gpa + length)}, which must be inside RAM. */
    MemorySegment driver(long gpa, long length) {
        if (!ram.contains(gpa, length)) {
            throw new IllegalStateException("harness bug: driver access outside RAM at " + Long.toHexString(gpa));
        }
        return ram.slice(gpa, length);
    }

    /** Copies as much of {@code bytes} as fits in the region holding {@code gpa}; nothing if none does. */
    void driverWrite(long gpa, byte[] bytes) {
        long end = regionEnd(gpa);
        if (end < 0 || bytes.length == 0) {
            return;
        }
        int n = (int) Math.min(bytes.length, end - gpa);
        MemorySegment.copy(MemorySegment.ofArray(bytes), 0, ram.slice(gpa, n), 0, n);
    }

    /** The end of the region holding {@code gpa}, or -1. */
    static long regionEnd(long gpa) {
        if (gpa >= LOW && gpa < LOW + LOW_SIZE) {
            return LOW + LOW_SIZE;
        }
        if (gpa >= HIGH && gpa < HIGH + HIGH_SIZE) {
            return HIGH + HIGH_SIZE;
        }
        return -1;
    }

    /** Zeroes all of RAM: every input starts from the same memory. */
    void clear() {
        ram.slice(LOW, LOW_SIZE).fill((byte) 0);
        ram.slice(HIGH, HIGH_SIZE).fill((byte) 0);
    }
}
