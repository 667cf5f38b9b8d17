package dev.panvm.virtio.mmio;

import java.lang.foreign.MemorySegment;

/**
 * A device behind an MMIO window, with the same two methods as the vmm's
 * {@code dev.panvm.vmm.bus.BusDevice}: {@code offset} is relative to the window's base and
 * {@code data} holds the access's 1, 2, 4 or 8 bytes, little-endian.
 */
public interface MmioDevice {
    /** A guest read: fill {@code data}. */
    void read(long offset, MemorySegment data);

    /** A guest write of {@code data}. */
    void write(long offset, MemorySegment data);
}
