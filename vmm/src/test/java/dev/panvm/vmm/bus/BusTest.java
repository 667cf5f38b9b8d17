package dev.panvm.vmm.bus;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BusTest {
    record Access(String kind, long offset) {}

    static final class Recorder implements BusDevice {
        final List<Access> log = new ArrayList<>();

        @Override
        public void read(long offset, MemorySegment data) {
            log.add(new Access("r", offset));
            data.fill((byte) 0x42);
        }

        @Override
        public void write(long offset, MemorySegment data) {
            log.add(new Access("w", offset));
        }
    }

    @Test
    void dispatchesWithOffsetsRelativeToTheBase() {
        Bus bus = new Bus("test");
        Recorder a = new Recorder();
        Recorder b = new Recorder();
        bus.register(0x3f8, 8, a);
        bus.register(0x400, 1, b);
        MemorySegment d = Arena.ofAuto().allocate(1);
        assertTrue(bus.write(0x3ff, d));
        assertTrue(bus.read(0x400, d));
        assertEquals(0x42, d.get(JAVA_BYTE, 0));
        assertEquals(List.of(new Access("w", 7)), a.log);
        assertEquals(List.of(new Access("r", 0)), b.log);
    }

    @Test
    void unclaimedReadsAreAllOnes() {
        Bus bus = new Bus("test");
        bus.register(0x10, 4, new Recorder());
        MemorySegment d = Arena.ofAuto().allocate(4);
        assertFalse(bus.read(0x14, d));
        assertEquals(-1, d.get(java.lang.foreign.ValueLayout.JAVA_INT, 0));
        assertFalse(bus.read(0x0f, d));
        assertFalse(bus.write(0x0f, d));
    }

    @Test
    void overlappingRangesAreRefused() {
        Bus bus = new Bus("test");
        bus.register(0x100, 0x10, new Recorder());
        assertThrows(IllegalArgumentException.class, () -> bus.register(0x10f, 1, new Recorder()));
        assertThrows(IllegalArgumentException.class, () -> bus.register(0xf0, 0x11, new Recorder()));
        bus.register(0x110, 1, new Recorder());
        bus.register(0xf0, 0x10, new Recorder());
    }
}
