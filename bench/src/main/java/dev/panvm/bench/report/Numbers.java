package dev.panvm.bench.report;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.util.Locale;

/**
 * How the report writes numbers: a given count of significant digits, but never fewer than the
 * integer digits (23,009, not 23,000), thousands separated by commas whatever the JVM's locale.
 */
public final class Numbers {
    /** Significant digits of a mean or a ratio. */
    static final int VALUE_DIGITS = 3;
    /** Significant digits of an error: its first two say how far the interval reaches. */
    static final int ERROR_DIGITS = 2;

    private Numbers() {
    }

    /** {@code x} to {@code significant} digits; {@code ?} for NaN. */
    public static String format(double x, int significant) {
        if (Double.isNaN(x)) {
            return "?";
        }
        if (Double.isInfinite(x)) {
            return x > 0 ? "∞" : "-∞";
        }
        if (x == 0) {
            return "0";
        }
        BigDecimal exact = new BigDecimal(x);
        // integer digits after rounding: 9.996 to 3 digits is 10.0, two of them
        BigDecimal rounded = exact.round(new MathContext(significant, RoundingMode.HALF_UP));
        int decimals = Math.max(0, significant - (rounded.precision() - rounded.scale()));
        return String.format(Locale.ROOT, "%,." + decimals + "f", exact.setScale(decimals, RoundingMode.HALF_UP));
    }

    /** A mean with its error: {@code 25.3 ± 1.8}, or {@code 25.3 ±?} when the error is unknown (NaN). */
    public static String withError(double mean, double error) {
        String e = Double.isNaN(error) ? "?" : " " + format(error, ERROR_DIGITS);
        return format(mean, VALUE_DIGITS) + " ±" + e;
    }
}
