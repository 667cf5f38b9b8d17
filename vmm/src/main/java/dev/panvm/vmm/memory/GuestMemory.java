package dev.panvm.vmm.memory;

import dev.panvm.kvm.sys.ErrnoException;
import dev.panvm.kvm.sys.LibC;

import java.lang.foreign.MemorySegment;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

/**
 * Guest RAM: one anonymous host mapping, presented to the guest as one or more guest-physical
 * {@link Region}s (RAM is split around the MMIO hole below 4 GiB).
 *
 * <p>Every access takes a guest-physical address and length and is checked against the regions
 * before any host memory is touched; the segments' own bounds are a second line of defence.
 * The mapping is backed by transparent huge pages. Unless asked, it becomes resident only as the
 * guest touches it, as QEMU's does. Asked ({@code MachineConfig.prefault}, for benchmarks), it is
 * prefaulted, so the guest's first touch of a page does not cost a host page fault (on PVM hosts
 * a shadow-page fault, ~4.5 us). Prefaulting runs on a background thread, chunk by chunk,
 * because allocating huge pages is slow on some hosts (about 2 ms per MiB on the PVM development
 * hosts) and the guest need not wait for it: a page it touches first is simply faulted in then.
 * The VMM starts it ({@link #startPrefault}) once the VM is built, so it does not compete with
 * building it.
 */
public final class GuestMemory implements dev.panvm.virtio.GuestMemory, AutoCloseable {
    private static final int MADV_POPULATE_WRITE = 23;
    private static final long HOST_PAGE = 4096;
    /**
     * One huge page per populate call: each call holds the process's mmap lock, which every
     * mmap (a vCPU's kvm_run page, the JVM's own heap and code cache) must wait for, and after
     * another VM has just freed its memory the kernel may compact before it can hand out a huge
     * page. Small calls keep those waits short.
     */
    private static final long PREFAULT_CHUNK = 2L << 20;

    /** A contiguous range of guest-physical RAM and the host memory behind it. */
    public record Region(long guestAddress, MemorySegment host) {
        public long size() {
            return host.byteSize();
        }

        public long end() {
            return guestAddress + host.byteSize();
        }

        boolean contains(long gpa, long length) {
            return gpa >= guestAddress && length >= 0 && length <= size() && gpa - guestAddress <= size() - length;
        }
    }

    private final MemorySegment mapping;
    private final List<Region> regions;
    private Thread prefaulter;
    private volatile boolean closing;

    private GuestMemory(MemorySegment mapping, List<Region> regions) {
        this.mapping = mapping;
        this.regions = List.copyOf(regions);
    }

    /**
     * Maps RAM for the given guest-physical ranges, each {@code {guestAddress, size}}, back to back
     * in one host mapping.
     */
    public static GuestMemory allocate(long[][] ranges) throws ErrnoException {
        long total = 0;
        for (long[] r : ranges) {
            total += r[1];
        }
        MemorySegment mapping = LibC.mmap(total, LibC.PROT_READ | LibC.PROT_WRITE,
                LibC.MAP_PRIVATE | LibC.MAP_ANONYMOUS | LibC.MAP_NORESERVE, -1, 0);
        try {
            LibC.madvise(mapping, LibC.MADV_HUGEPAGE);
        } catch (ErrnoException e) {
            // Huge pages are an optimisation; a kernel without THP still runs the guest.
        }
        Region[] regions = new Region[ranges.length];
        long offset = 0;
        for (int i = 0; i < ranges.length; i++) {
            regions[i] = new Region(ranges[i][0], mapping.asSlice(offset, ranges[i][1]));
            offset += ranges[i][1];
        }
        return new GuestMemory(mapping, List.of(regions));
    }

    /** Starts faulting in all of guest RAM on a background thread (once). */
    public synchronized void startPrefault() {
        if (prefaulter == null && !closing) {
            prefaulter = Thread.ofPlatform().name("prefault").daemon().start(this::prefault);
        }
    }

    /** Faults in the whole mapping, a chunk at a time, until done or closing. */
    private void prefault() {
        for (long off = 0; off < mapping.byteSize() && !closing; off += PREFAULT_CHUNK) {
            MemorySegment chunk = mapping.asSlice(off, Math.min(PREFAULT_CHUNK, mapping.byteSize() - off));
            try {
                LibC.madvise(chunk, MADV_POPULATE_WRITE);
            } catch (ErrnoException e) {
                // Kernels before 5.14 lack MADV_POPULATE_WRITE: touch every page instead (a
                // read would map the shared zero page, so write the zero that is already there).
                for (long p = 0; p < chunk.byteSize(); p += HOST_PAGE) {
                    chunk.set(JAVA_BYTE, p, chunk.get(JAVA_BYTE, p));
                }
            }
        }
    }

    /** The guest-physical RAM regions, in ascending address order. */
    public List<Region> regions() {
        return regions;
    }

    /** Total RAM in bytes. */
    public long size() {
        return mapping.byteSize();
    }

    /** True when {@code [gpa, gpa + length)} lies inside one RAM region. */
    @Override
    public boolean contains(long gpa, long length) {
        for (Region r : regions) {
            if (r.contains(gpa, length)) {
                return true;
            }
        }
        return false;
    }

    /**
     * The host memory behind {@code [gpa, gpa + length)}.
     *
     * @throws GuestMemoryException if the range is not entirely inside one RAM region
     */
    @Override
    public MemorySegment slice(long gpa, long length) {
        for (Region r : regions) {
            if (r.contains(gpa, length)) {
                return r.host().asSlice(gpa - r.guestAddress(), length);
            }
        }
        throw new GuestMemoryException(String.format(
                "guest range [%#x, %#x) is not inside guest RAM", gpa, gpa + length));
    }

    public void putByte(long gpa, byte v) {
        slice(gpa, 1).set(JAVA_BYTE, 0, v);
    }

    public void putShort(long gpa, short v) {
        slice(gpa, 2).set(JAVA_SHORT_UNALIGNED, 0, v);
    }

    public void putInt(long gpa, int v) {
        slice(gpa, 4).set(JAVA_INT_UNALIGNED, 0, v);
    }

    public void putLong(long gpa, long v) {
        slice(gpa, 8).set(JAVA_LONG_UNALIGNED, 0, v);
    }

    public long getLong(long gpa) {
        return slice(gpa, 8).get(JAVA_LONG_UNALIGNED, 0);
    }

    public int getInt(long gpa) {
        return slice(gpa, 4).get(JAVA_INT_UNALIGNED, 0);
    }

    /** Copies {@code bytes} to guest memory at {@code gpa}. */
    public void write(long gpa, byte[] bytes) {
        MemorySegment.copy(MemorySegment.ofArray(bytes), 0, slice(gpa, bytes.length), 0, bytes.length);
    }

    @Override
    public void close() {
        Thread running;
        synchronized (this) {
            closing = true;
            running = prefaulter;
        }
        try {
            if (running != null) {
                running.join();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return; // leave the mapping in place rather than unmap it under the prefaulter
        }
        try {
            LibC.munmap(mapping);
        } catch (ErrnoException e) {
            throw new IllegalStateException(e);
        }
    }
}
