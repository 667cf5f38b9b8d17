package dev.panvm.tune.cli;

import dev.panvm.tune.Measurement;
import dev.panvm.tune.StudentT;

/**
 * A candidate setting against the default, both measured afresh: the relative improvement
 * {@code (default - candidate) / default} of the means, with the 95 % confidence interval of the
 * difference of means (Welch: unequal variances, Welch-Satterthwaite degrees of freedom) divided by
 * the default's mean (whose own uncertainty is left out of the denominator, so the interval is
 * slightly too narrow for a default mean that is itself very noisy).
 *
 * @param improvement relative improvement; positive means the candidate is faster
 * @param halfWidth   half-width of its 95 % interval, in the same unit
 */
public record Comparison(double improvement, double halfWidth) {

    public static Comparison of(Measurement atDefault, Measurement candidate) {
        double m1 = atDefault.mean();
        double m2 = candidate.mean();
        int n1 = atDefault.samples().size();
        int n2 = candidate.samples().size();
        double v1 = square(atDefault.standardDeviation()) / n1;
        double v2 = square(candidate.standardDeviation()) / n2;
        double se = Math.sqrt(v1 + v2);
        double halfWidth;
        if (n1 < 2 || n2 < 2) {
            halfWidth = Double.POSITIVE_INFINITY;
        } else if (se == 0) {
            halfWidth = 0;
        } else {
            double df = square(v1 + v2) / (square(v1) / (n1 - 1) + square(v2) / (n2 - 1));
            halfWidth = StudentT.quantile975(Math.max(1, (int) Math.floor(df))) * se;
        }
        return new Comparison((m1 - m2) / m1, halfWidth / m1);
    }

    /** Whether the interval lies wholly above 0: the candidate is faster beyond the noise. */
    public boolean significant() {
        return improvement - halfWidth > 0;
    }

    private static double square(double x) {
        return x * x;
    }
}
