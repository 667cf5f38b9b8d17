package dev.panvm.virtio;

import org.junit.jupiter.api.Test;
import org.slf4j.helpers.NOPLogger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SimpleGuestMemoryTest {

    @Test
    void rangesMustLieInsideOneRegion() {
        try (SimpleGuestMemory m = SimpleGuestMemory.of(
                new SimpleGuestMemory.Region(0, 0x1000), new SimpleGuestMemory.Region(0x1000, 0x1000),
                new SimpleGuestMemory.Region(0x10_0000, 0x2000))) {
            assertTrue(m.contains(0, 0x1000));
            assertTrue(m.contains(0xfff, 1));
            assertFalse(m.contains(0xfff, 2), "straddles two regions");
            assertTrue(m.contains(0x10_1fff, 1));
            assertTrue(m.contains(0x10_2000, 0), "an empty range at the end");
            assertFalse(m.contains(0x10_2000, 1));
            assertFalse(m.contains(0x3000, 1), "in the hole");
            assertFalse(m.contains(0x10, -1));
            assertFalse(m.contains(-1, 2));
            assertFalse(m.contains(0x10_0000, Long.MAX_VALUE));
            assertFalse(m.contains(Long.MAX_VALUE, Long.MAX_VALUE), "the end overflows");
            assertEquals(0, m.rejectedSlices());
            assertThrows(GuestMemoryException.class, () -> m.slice(0xfff, 2));
            assertThrows(GuestMemoryException.class, () -> m.slice(Long.MAX_VALUE - 1, 4));
            assertEquals(2, m.rejectedSlices());
            m.slice(0x10_0000, 16).fill((byte) 7);
            assertEquals(7, m.slice(0x10_000f, 1).get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0));
        }
    }

    @Test
    void guestErrorsAreLoggedOncePerKindAndInterval() {
        GuestErrorLog log = new GuestErrorLog(NOPLogger.NOP_LOGGER, "test");
        assertTrue(log.report("a", "first"));
        assertFalse(log.report("a", "again"));
        assertTrue(log.report("b", "another kind"));
        assertFalse(log.report("b", "again"));
    }

    @Test
    void describesStatusBits() {
        assertEquals("ACKNOWLEDGE|DRIVER|FEATURES_OK|DRIVER_OK", DeviceStatus.describe(15));
        assertEquals("DEVICE_NEEDS_RESET|0x10", DeviceStatus.describe(0x50));
    }
}
