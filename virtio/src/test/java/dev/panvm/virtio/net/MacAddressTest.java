package dev.panvm.virtio.net;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class MacAddressTest {
    @Test
    void parsesAndPrintsSixOctets() {
        MacAddress mac = MacAddress.parse("02:AB:cd:00:10:ff");
        assertEquals(0x02abcd0010ffL, mac.value());
        assertEquals(0x02, mac.octet(0));
        assertEquals(0xff, mac.octet(5));
        assertEquals("02:ab:cd:00:10:ff", mac.toString());
        assertThrows(IllegalArgumentException.class, () -> MacAddress.parse("02:ab:cd:00:10"));
        assertThrows(IllegalArgumentException.class, () -> MacAddress.parse("02:ab:cd:00:10:fff"));
        assertThrows(IllegalArgumentException.class, () -> MacAddress.parse("02:ab:cd:00:10:zz"));
    }
}
