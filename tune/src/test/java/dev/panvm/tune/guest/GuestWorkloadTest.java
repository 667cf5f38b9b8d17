package dev.panvm.tune.guest;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GuestWorkloadTest {

    @Test
    void workloadsByNameWithTheirResultFields() {
        assertEquals("total_ms", GuestWorkload.of("hackbench").resultField());
        assertEquals("ns_per_round_trip", GuestWorkload.of("PIPE").resultField());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> GuestWorkload.of("kmalloc"));
        assertTrue(e.getMessage().contains("hackbench, pipe"), e.getMessage());
    }

    @Test
    void parametersAreCheckedBeforeAnythingBoots() {
        GuestWorkload h = GuestWorkload.HACKBENCH;
        assertEquals(Map.of("groups", "2", "loops", "50"), h.parseParameters(List.of("groups=2", "loops=50")));
        assertEquals("groups=2 loops=50", GuestWorkload.words(h.parseParameters(List.of("groups=2", "loops=50"))));
        assertEquals(Map.of("pin", "split"), GuestWorkload.PIPE.parseParameters(List.of("pin=split")));
        for (String bad : List.of("groups", "=2", "groups=", "group=2", "ops=5", "groups=2;exit", "groups=-1")) {
            assertThrows(IllegalArgumentException.class, () -> h.parseParameters(List.of(bad)), bad);
        }
        assertThrows(IllegalArgumentException.class, () -> h.parseParameters(List.of("groups=2", "groups=3")));
    }
}
