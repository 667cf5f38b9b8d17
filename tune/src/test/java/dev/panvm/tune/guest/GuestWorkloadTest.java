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
        assertTrue(e.getMessage().contains("hackbench, pipe, mixed"), e.getMessage());
        assertEquals("fio", GuestWorkload.of("mixed").guestName());
        assertTrue(GuestWorkload.MIXED.needsDisk() && !GuestWorkload.HACKBENCH.needsDisk());
    }

    @Test
    void mixedRunsFioWithCpuHogsOverItsDefaults() {
        GuestWorkload m = GuestWorkload.MIXED;
        assertEquals("file=/data.bin jobs=2 rw=randread dist=zipf:0.9 ops=1000 cpu_hogs=2",
                GuestWorkload.words(m.parseParameters(List.of())));
        // Given parameters replace the defaults in place and add to them.
        assertEquals("file=/other.bin jobs=4 rw=randread dist=zipf:0.9 ops=1000 cpu_hogs=2 cache=arc",
                GuestWorkload.words(m.parseParameters(List.of("jobs=4", "file=/other.bin", "cache=arc"))));
        for (String bad : List.of("file=data.bin", "dist=zipf:0.9;exit", "file=/a b", "groups=2")) {
            assertThrows(IllegalArgumentException.class, () -> m.parseParameters(List.of(bad)), bad);
        }
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
