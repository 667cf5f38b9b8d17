package dev.panvm.tune.guest;

import dev.panvm.tune.Measurement;
import dev.panvm.tune.StudentT;

/**
 * How many times each setting is run: enough that the 95 % confidence interval of a mean is
 * narrow against the effect the tuner looks for, within bounds that keep a step affordable.
 *
 * <p>The rule: from a pilot measurement of the default setting, take its coefficient of variation
 * {@code cv = s / mean}; the half-width of a mean of {@code n} runs is about
 * {@code t(0.975, n-1) * cv / sqrt(n)} of the mean. Choose the smallest {@code n} in
 * {@code [min, max]} for which that is at most {@code target} (default: 5 %, a quarter of STUN's
 * 20 % threshold, so a real 20 % change stands several half-widths clear of the noise); when even
 * {@code max} runs do not get there, {@code max} (and the report says the target was missed). On the
 * 2-core PVM host hackbench's {@code total_ms} spread 100-200 % (max-min)/mean over boots, a cv
 * near 0.3-0.5, which asks for 150-400 runs: the rule then runs {@code max} and the intervals in
 * the report show how far from the target that left it.
 *
 * @param min    fewest runs per setting, at least 2 (one run has no interval)
 * @param max    most runs per setting
 * @param target wanted 95 % half-width as a fraction of the mean
 */
public record RepeatsRule(int min, int max, double target) {

    /** 3..15 runs, half-width 5 % of the mean. */
    public static final RepeatsRule DEFAULT = new RepeatsRule(3, 15, 0.05);

    public RepeatsRule {
        if (min < 2 || max < min) {
            throw new IllegalArgumentException("repeats need 2 <= min <= max, not " + min + ".." + max);
        }
        if (!(target > 0 && target < 1)) {
            throw new IllegalArgumentException("the target half-width is a fraction in (0, 1), not " + target);
        }
    }

    /** The runs per setting for a workload whose pilot measured {@code pilot}. */
    public int repeats(Measurement pilot) {
        if (pilot.samples().size() < 2) {
            throw new IllegalArgumentException("a pilot needs at least 2 runs to show the noise");
        }
        double cv = pilot.standardDeviation() / pilot.mean();
        for (int n = min; n <= max; n++) {
            if (tQuantile(n - 1) * cv / Math.sqrt(n) <= target) {
                return n;
            }
        }
        return max;
    }

    /** The expected 95 % half-width, as a fraction of the mean, of {@code n} runs with this pilot's cv. */
    public static double expectedHalfWidth(Measurement pilot, int n) {
        double cv = pilot.standardDeviation() / pilot.mean();
        return tQuantile(n - 1) * cv / Math.sqrt(n);
    }

    private static double tQuantile(int df) {
        return StudentT.quantile975(df);
    }
}
