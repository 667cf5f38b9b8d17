package dev.panvm.tune.guest;

import dev.panvm.tune.Measurement;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RepeatsRuleTest {

    @Test
    void aQuietWorkloadGetsTheMinimum() {
        assertEquals(3, RepeatsRule.DEFAULT.repeats(Measurement.of(100, 100.5, 99.5, 100, 100.2)));
        assertEquals(3, RepeatsRule.DEFAULT.repeats(Measurement.of(7, 7, 7)));
    }

    @Test
    void aNoisyWorkloadGetsTheMaximum() {
        // cv ~ 0.5, as hackbench on the 2-core PVM host: hundreds of runs would be needed
        assertEquals(15, RepeatsRule.DEFAULT.repeats(Measurement.of(5, 10, 20, 8, 15, 4, 12)));
    }

    @Test
    void inBetweenItIsTheFewestRunsThatReachTheTarget() {
        Measurement pilot = Measurement.of(90, 110, 95, 105, 100, 100);
        double cv = pilot.standardDeviation() / pilot.mean();
        int n = RepeatsRule.DEFAULT.repeats(pilot);
        assertTrue(n > 3 && n < 15, "cv " + cv + " gave " + n);
        assertTrue(RepeatsRule.expectedHalfWidth(pilot, n) <= 0.05);
        assertTrue(RepeatsRule.expectedHalfWidth(pilot, n - 1) > 0.05);
    }

    @Test
    void badBoundsAndOneRunPilotsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new RepeatsRule(1, 5, 0.05));
        assertThrows(IllegalArgumentException.class, () -> new RepeatsRule(5, 4, 0.05));
        assertThrows(IllegalArgumentException.class, () -> new RepeatsRule(3, 5, 0));
        assertThrows(IllegalArgumentException.class, () -> RepeatsRule.DEFAULT.repeats(new Measurement(List.of(3.0))));
    }
}
