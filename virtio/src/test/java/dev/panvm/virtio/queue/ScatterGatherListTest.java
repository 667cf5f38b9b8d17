package dev.panvm.virtio.queue;

import dev.panvm.virtio.SimpleGuestMemory;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class ScatterGatherListTest {
    private final ScatterGatherList sg = ScatterGatherList.of(List.of(
            new BufferElement(0x100, 5, false), new BufferElement(0x200, 0, false), new BufferElement(0x300, 10, false)));

    @Test
    void rangesSplitElements() {
        assertEquals(15, sg.length());
        assertEquals(List.of(new BufferElement(0x103, 2, false), new BufferElement(0x300, 4, false)), sg.range(3, 6).elements());
        assertEquals(List.of(new BufferElement(0x309, 1, false)), sg.range(14, 1).elements());
        assertEquals(List.of(new BufferElement(0x300, 10, false)), sg.skip(5).elements());
        assertEquals(0, sg.range(15, 0).length());
        assertThrows(IndexOutOfBoundsException.class, () -> sg.range(10, 6));
        assertThrows(IndexOutOfBoundsException.class, () -> sg.range(-1, 1));
    }

    @Test
    void copiesAcrossElements() {
        try (SimpleGuestMemory m = SimpleGuestMemory.ofSize(0x1000)) {
            byte[] data = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
            sg.copyFrom(m, MemorySegment.ofArray(data));
            assertEquals(5, m.slice(0x104, 1).get(ValueLayout.JAVA_BYTE, 0));
            assertEquals(6, m.slice(0x300, 1).get(ValueLayout.JAVA_BYTE, 0));
            byte[] back = new byte[12];
            sg.copyTo(m, MemorySegment.ofArray(back));
            assertArrayEquals(data, back);
            assertThrows(IndexOutOfBoundsException.class, () -> sg.copyTo(m, MemorySegment.ofArray(new byte[16])));
        }
    }
}
