package dev.panvm.tune;

import java.util.Arrays;
import java.util.List;

/**
 * The repeated results of running a workload once per sample under one setting of the knobs;
 * lower is better (a run time, nanoseconds per operation; a throughput is measured as its inverse).
 *
 * @param samples one result per repetition, at least one
 */
public record Measurement(List<Double> samples) {

    public Measurement {
        if (samples.isEmpty()) {
            throw new IllegalArgumentException("a measurement needs at least one sample");
        }
        for (double x : samples) {
            if (!Double.isFinite(x)) {
                throw new IllegalArgumentException("a sample must be a finite number, not " + x);
            }
        }
        samples = List.copyOf(samples);
    }

    public static Measurement of(double... samples) {
        return new Measurement(Arrays.stream(samples).boxed().toList());
    }

    public double mean() {
        return samples.stream().mapToDouble(Double::doubleValue).average().orElseThrow();
    }

    /** The sample standard deviation (n - 1 in the denominator); 0 for a single sample. */
    public double standardDeviation() {
        int n = samples.size();
        if (n < 2) {
            return 0;
        }
        double mean = mean();
        double squares = samples.stream().mapToDouble(x -> (x - mean) * (x - mean)).sum();
        return Math.sqrt(squares / (n - 1));
    }

    /**
     * Half the width of the mean's 95 % confidence interval (Student t). Infinite for a single
     * sample: one run says nothing about the noise, so no difference from it counts as real.
     */
    public double halfWidth() {
        int n = samples.size();
        if (n < 2) {
            return Double.POSITIVE_INFINITY;
        }
        return StudentT.quantile975(n - 1) * standardDeviation() / Math.sqrt(n);
    }
}
