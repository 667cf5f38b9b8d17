package dev.panvm.tune;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class KnobFilterTest {

    @Test
    void keepsTheBowlsKnobsAndDropsTheFlatOne() throws Exception {
        for (long seed = 0; seed < 10; seed++) {
            Bowl bowl = new Bowl(seed, 0.05, 3);
            FilterResult result = KnobFilter.stun().filter(Bowl.KNOBS, bowl);
            assertEquals(List.of(Bowl.LATENCY, Bowl.GRANULARITY), result.kept(), "seed " + seed + "\n" + result.table());
            assertEquals(1 + 2 * Bowl.KNOBS.size(), bowl.runs(), "the default once, then each knob's two ends");
            Sensitivity flat = result.rows().get(2);
            assertFalse(flat.kept());
            assertTrue(flat.effect() < 0.2, "seed " + seed + ": " + flat);
        }
    }

    @Test
    void theRowHoldsEachEndsMeasurementWithTheOthersAtDefault() throws Exception {
        FilterResult result = KnobFilter.stun().filter(Bowl.KNOBS, (Exact) settings -> {
            // an exact objective: run time is latency in ms + granularity in 0.1 ms
            double t = settings.get("sched_latency_ns") / 1e6 + settings.get("sched_min_granularity_ns") / 1e5;
            return Measurement.of(t, t);
        });
        Sensitivity latency = result.rows().getFirst();
        assertEquals(15 + 23, latency.atDefault().mean(), 1e-9);
        assertEquals(1 + 23, latency.atMin().mean(), 1e-9);
        assertEquals(41 + 23, latency.atMax().mean(), 1e-9);
        assertEquals((64.0 - 38) / 38, latency.effect(), 1e-12);
        assertTrue(latency.kept());
        String table = result.table();
        assertTrue(table.contains("| sched_latency_ns | 24.00 ± 0.0 (1000000) | 38.00 ± 0.0 (15000000) | 64.00 ± 0.0 (41000000) | 68.4 % | yes |"), table);
        assertTrue(table.contains("| sched_migration_cost_ns |") && table.contains("| 0.0 % | no |"), table);
    }

    @Test
    void aLargeChangeWithinTheNoiseIsNotKept() throws Exception {
        Knob k = new Knob("sched_wakeup_granularity_ns", 0, 10, 5, 3);
        // the ends' means are 30 % off, but the samples scatter more than that
        Exact noisy = settings -> switch (settings.get(k.name()).intValue()) {
            case 5 -> Measurement.of(40, 160, 100);
            default -> Measurement.of(60, 200, 130);
        };
        Sensitivity row = KnobFilter.stun().filter(List.of(k), noisy).rows().getFirst();
        assertEquals(0.3, row.effect(), 1e-12);
        assertFalse(row.kept(), row.toString());
    }

    @Test
    void theThresholdIsASetting() throws Exception {
        Knob k = new Knob("sched_nr_migrate", 1, 64, 32, 64);
        // 10 % slower at either end, with almost no noise
        Exact tenPercent = settings -> settings.get(k.name()) == 32
                ? Measurement.of(100, 100.1, 99.9) : Measurement.of(110, 110.1, 109.9);
        assertFalse(KnobFilter.stun().filter(List.of(k), tenPercent).rows().getFirst().kept());
        assertTrue(new KnobFilter(0.05).filter(List.of(k), tenPercent).rows().getFirst().kept());
        assertThrows(IllegalArgumentException.class, () -> new KnobFilter(0));
    }

    @Test
    void aSpaceNeedsAKeptKnob() {
        FilterResult none = new FilterResult(List.of(Bowl.MIGRATION), Measurement.of(1, 1), List.of());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, none::space);
        assertTrue(e.getMessage().contains("sched_migration_cost_ns"), e.getMessage());
    }

    /** An objective written as a lambda; the filter never asks for its workload. */
    private interface Exact extends Objective {
        @Override
        default String workload() {
            return "exact";
        }
    }
}
