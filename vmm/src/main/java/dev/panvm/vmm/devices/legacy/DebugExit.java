package dev.panvm.vmm.devices.legacy;

import dev.panvm.vmm.bus.BusDevice;

import java.lang.foreign.MemorySegment;
import java.util.function.IntConsumer;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * The debug-exit port: a guest write ends the VM with the written value as its status. It sits
 * where QEMU's {@code isa-debug-exit,iobase=0xf4,iosize=0x04} does, so one guest image ends
 * cleanly on both VMMs (QEMU reports {@code (value << 1) | 1}; panvm reports the value itself).
 */
public final class DebugExit implements BusDevice {
    public static final int PORT = 0xf4;
    public static final int SIZE = 4;

    private final IntConsumer onExit;

    public DebugExit(IntConsumer onExit) {
        this.onExit = onExit;
    }

    @Override
    public void read(long offset, MemorySegment data) {
        data.fill((byte) 0);
    }

    @Override
    public void write(long offset, MemorySegment data) {
        int value = 0;
        for (int i = (int) data.byteSize() - 1; i >= 0; i--) {
            value = (value << 8) | Byte.toUnsignedInt(data.get(JAVA_BYTE, i));
        }
        onExit.accept(value);
    }
}
