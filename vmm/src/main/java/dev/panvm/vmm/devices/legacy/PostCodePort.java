package dev.panvm.vmm.devices.legacy;

import dev.panvm.vmm.bus.BusDevice;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicLong;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * Port 0x80, the POST-code port firmware and kernels write progress codes (and I/O delays) to.
 * Keeps the last code and a write count; the port-I/O exit benchmark drives it.
 */
public final class PostCodePort implements BusDevice {
    public static final int PORT = 0x80;

    private volatile int lastCode;
    private final AtomicLong writes = new AtomicLong();

    @Override
    public void read(long offset, MemorySegment data) {
        data.fill((byte) lastCode);
    }

    @Override
    public void write(long offset, MemorySegment data) {
        lastCode = Byte.toUnsignedInt(data.get(JAVA_BYTE, 0));
        writes.incrementAndGet();
    }

    public int lastCode() {
        return lastCode;
    }

    public long writes() {
        return writes.get();
    }
}
