package dev.panvm.tune.cli;

import dev.panvm.tune.Measurement;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ComparisonTest {

    @Test
    void aClearImprovementIsSignificant() {
        Comparison c = Comparison.of(Measurement.of(100, 102, 98, 100), Measurement.of(80, 81, 79, 80));
        assertEquals(0.2, c.improvement(), 1e-12);
        assertTrue(c.significant());
        assertTrue(c.halfWidth() > 0 && c.halfWidth() < 0.05, "" + c);
    }

    @Test
    void overlappingNoiseIsNot() {
        Comparison c = Comparison.of(Measurement.of(100, 150, 60, 120), Measurement.of(90, 140, 50, 110));
        assertTrue(c.improvement() > 0);
        assertFalse(c.significant());
    }

    @Test
    void welchIntervalMatchesAHandComputation() {
        // means 10 and 8, variances 1 and 4, n = 5 each: se = sqrt(0.2 + 0.8) = 1,
        // df = 1 / (0.04/4 + 0.64/4) = 5.88 -> 5, t = 2.5706
        Comparison c = Comparison.of(Measurement.of(9, 11, 9, 11, 10), Measurement.of(6, 10, 6, 10, 8));
        assertEquals(0.2, c.improvement(), 1e-12);
        assertEquals(2.570581836 / 10, c.halfWidth(), 1e-9);
    }
}
