package dev.panvm.virtio;

import java.lang.foreign.MemorySegment;

/**
 * Guest-physical RAM as the devices see it. The vmm's {@code dev.panvm.vmm.memory.GuestMemory}
 * implements this over its mmap'd regions; {@link SimpleGuestMemory} does so over plain
 * off-heap memory for tests and tools.
 *
 * <p>Devices never trust a guest-supplied address or length: every range is checked with
 * {@link #contains} (or handed to {@link #slice}, which checks again) before any byte is read
 * or written. The returned segment's own bounds are a second line of defence, never the only one.
 */
public interface GuestMemory {

    /**
     * True when {@code [gpa, gpa + length)} lies entirely inside one RAM region. False for a
     * negative length and for ranges whose end overflows.
     */
    boolean contains(long gpa, long length);

    /**
     * The host memory behind {@code [gpa, gpa + length)}.
     *
     * @throws GuestMemoryException if the range is not entirely inside one RAM region
     *         (including a negative length or an end that overflows)
     */
    MemorySegment slice(long gpa, long length);
}
