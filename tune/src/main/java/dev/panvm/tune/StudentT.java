package dev.panvm.tune;

/**
 * The two-sided 95 % critical value of Student's t distribution, for confidence intervals of a
 * mean from a few repeated runs.
 */
public final class StudentT {
    /** t(0.975, df) for df = 1 .. 30 (scipy.stats.t.ppf, 9 decimals). */
    private static final double[] TABLE = {
        12.706204736, 4.302652730, 3.182446305, 2.776445105, 2.570581836,
        2.446911851, 2.364624252, 2.306004135, 2.262157163, 2.228138852,
        2.200985160, 2.178812830, 2.160368656, 2.144786688, 2.131449546,
        2.119905299, 2.109815578, 2.100922040, 2.093024054, 2.085963447,
        2.079613845, 2.073873068, 2.068657610, 2.063898562, 2.059538553,
        2.055529439, 2.051830516, 2.048407142, 2.045229642, 2.042272456,
    };
    /** The normal distribution's 0.975 quantile: the limit as df grows. */
    private static final double Z = 1.959963984540054;

    private StudentT() {
    }

    /** t(0.975, df): the half-width of a 95 % interval in standard errors. */
    public static double quantile975(int df) {
        if (df < 1) {
            throw new IllegalArgumentException("degrees of freedom must be at least 1, not " + df);
        }
        if (df <= TABLE.length) {
            return TABLE[df - 1];
        }
        // Cornish-Fisher expansion around the normal quantile (Abramowitz & Stegun 26.7.5);
        // beyond 30 degrees of freedom its error is below 1e-6
        double z = Z;
        double z2 = z * z;
        double n = df;
        return z
                + z * (z2 + 1) / (4 * n)
                + z * ((5 * z2 + 16) * z2 + 3) / (96 * n * n)
                + z * (((3 * z2 + 19) * z2 + 17) * z2 - 15) / (384 * n * n * n)
                + z * ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945) / (92160 * n * n * n * n);
    }
}
