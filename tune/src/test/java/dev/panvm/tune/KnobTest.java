package dev.panvm.tune;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class KnobTest {

    @Test
    void evenlySpacedGridFromMinToMax() {
        Knob k = new Knob("sched_latency_ns", 0, 100, 37, 11);
        assertEquals(10, k.lastIndex());
        for (int i = 0; i <= 10; i++) {
            assertEquals(10L * i, k.value(i));
            assertEquals(i, k.indexOf(10L * i));
        }
    }

    @Test
    void aDefaultOffTheGridSnapsToTheNearestValue() {
        Knob k = new Knob("sched_latency_ns", 0, 100, 37, 11);
        assertEquals(4, k.defaultIndex());
        assertEquals(3, k.indexOf(34));
        assertEquals(4, k.indexOf(36));
    }

    @Test
    void valuesOutsideTheRangeGoToItsEnds() {
        Knob k = new Knob("sched_nr_migrate", 1, 10, 5, 4);
        assertEquals(0, k.indexOf(-1000));
        assertEquals(3, k.indexOf(1000));
    }

    @Test
    void unevenStepsRoundButTheEndsAreExact() {
        // 9 / 3 = 3 per step: 1, 4, 7, 10
        Knob k = new Knob("sched_nr_migrate", 1, 10, 5, 4);
        assertEquals(1, k.value(0));
        assertEquals(4, k.value(1));
        assertEquals(7, k.value(2));
        assertEquals(10, k.value(3));
        assertEquals(1, k.defaultIndex());
        // a range of nanoseconds that does not divide evenly
        Knob ns = new Knob("sched_migration_cost_ns", 100_000, 1_000_000_007, 500_000, 7);
        assertEquals(1_000_000_007, ns.value(6));
        for (int i = 0; i <= 6; i++) {
            assertEquals(i, ns.indexOf(ns.value(i)), "index " + i);
        }
    }

    @Test
    void rejectsBadRangesAndGrids() {
        assertThrows(IllegalArgumentException.class, () -> new Knob("x", 10, 10, 10, 3));
        assertThrows(IllegalArgumentException.class, () -> new Knob("x", 0, 10, 11, 3));
        assertThrows(IllegalArgumentException.class, () -> new Knob("x", 0, 10, 5, 1));
        assertThrows(IllegalArgumentException.class, () -> new Knob(" ", 0, 10, 5, 3));
        Knob k = new Knob("x", 0, 10, 5, 3);
        assertThrows(IndexOutOfBoundsException.class, () -> k.value(3));
        assertThrows(IndexOutOfBoundsException.class, () -> k.value(-1));
    }

    @Test
    void geometricGridHasAnEvenRatioAndExactEnds() {
        Knob k = Knob.geometric("sched_latency_ns", 10_000, 1_000_000_000, 12_000_000, 11);
        assertEquals(10_000, k.value(0));
        assertEquals(1_000_000_000, k.value(10));
        // 10^4 .. 10^9 in 10 steps: half a decade each
        assertEquals(100_000, k.value(2));
        assertEquals(316_228, k.value(3));
        for (int i = 0; i <= 10; i++) {
            assertEquals(i, k.indexOf(k.value(i)));
        }
        // 12 ms lies between 10 ms (index 6) and 31.6 ms, nearer by ratio to 10 ms
        assertEquals(6, k.defaultIndex());
        assertEquals(0, k.indexOf(1));
    }

    @Test
    void geometricGridNeedsAPositiveMinimum() {
        assertThrows(IllegalArgumentException.class, () -> Knob.geometric("sched_wakeup_granularity_ns", 0, 100, 5, 3));
    }
}
