package dev.panvm.vmm.bus;

import java.lang.foreign.MemorySegment;

/**
 * A device behind a range of the port-I/O or MMIO address space. Offsets are relative to the
 * base the device was registered at; {@code data} holds the access's 1, 2, 4 or 8 bytes in
 * little-endian order. Devices are plain state machines: they never touch KVM.
 */
public interface BusDevice {
    /** A guest read: fill {@code data}. */
    void read(long offset, MemorySegment data);

    /** A guest write of {@code data}. */
    void write(long offset, MemorySegment data);
}
