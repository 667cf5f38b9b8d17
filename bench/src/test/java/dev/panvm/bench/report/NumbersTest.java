package dev.panvm.bench.report;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Locale;

import static org.junit.jupiter.api.Assertions.assertEquals;

class NumbersTest {

    @ParameterizedTest
    @CsvSource(delimiter = ';', value = {
        "23009.4; 3; 23,009",
        "1234567.8; 3; 1,234,568",
        "25.347; 3; 25.3",
        "0.049345; 3; 0.0493",
        "99.96; 3; 100",
        "9.996; 3; 10.0",
        "-1.236; 3; -1.24",
        "5.0; 3; 5.00",
        "0; 3; 0",
        "1820.4; 2; 1,820",
        "0.1234; 2; 0.12",
        "NaN; 3; ?"})
    void significantDigitsButEveryIntegerDigit(double x, int digits, String shown) {
        assertEquals(shown, Numbers.format(x, digits));
    }

    @Test
    void aMeanWithItsErrorOrAQuestionMark() {
        assertEquals("25.3 ± 1.8", Numbers.withError(25.31, 1.82));
        assertEquals("23,009 ± 1,823", Numbers.withError(23009.4, 1823.2));
        assertEquals("0.0493 ± 0.0012", Numbers.withError(0.049345, 0.00123));
        assertEquals("3,080 ±?", Numbers.withError(3080.27, Double.NaN));
    }

    @Test
    void theJvmsLocaleChangesNothing() {
        Locale before = Locale.getDefault();
        try {
            Locale.setDefault(Locale.GERMANY);
            assertEquals("1,234,568", Numbers.format(1234567.8, 3));
            assertEquals("0.0493", Numbers.format(0.049345, 3));
        } finally {
            Locale.setDefault(before);
        }
    }
}
