package dev.panvm.tune;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class MeasurementTest {

    @Test
    void meanDeviationAndStudentInterval() {
        Measurement m = Measurement.of(1, 2, 3, 4, 5);
        assertEquals(3, m.mean(), 1e-12);
        assertEquals(Math.sqrt(2.5), m.standardDeviation(), 1e-12);
        // t(0.975, 4) = 2.776445105
        assertEquals(2.776445105 * Math.sqrt(2.5) / Math.sqrt(5), m.halfWidth(), 1e-9);
    }

    @Test
    void oneSampleSaysNothingAboutTheNoise() {
        Measurement m = Measurement.of(42);
        assertEquals(42, m.mean());
        assertEquals(0, m.standardDeviation());
        assertEquals(Double.POSITIVE_INFINITY, m.halfWidth());
    }

    @Test
    void rejectsNoSamplesAndNonNumbers() {
        assertThrows(IllegalArgumentException.class, () -> new Measurement(List.of()));
        assertThrows(IllegalArgumentException.class, () -> Measurement.of(1, Double.NaN));
        assertThrows(IllegalArgumentException.class, () -> Measurement.of(Double.POSITIVE_INFINITY));
    }

    /** Reference values: scipy.stats.t.ppf(0.975, df). */
    @ParameterizedTest
    @CsvSource({"1, 12.706205", "2, 4.302653", "10, 2.228139", "30, 2.042272", "31, 2.039513",
        "40, 2.021075", "60, 2.000298", "120, 1.979930", "1000, 1.962339"})
    void studentQuantileMatchesReference(int df, double expected) {
        assertEquals(expected, StudentT.quantile975(df), 2e-6, "df " + df);
    }

    @Test
    void studentQuantileNeedsADegreeOfFreedom() {
        assertThrows(IllegalArgumentException.class, () -> StudentT.quantile975(0));
    }
}
