package dev.panvm.tune;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A simulated workload with a planted optimum: a quadratic bowl over two knobs, flat in a third,
 * with multiplicative Gaussian noise from a seeded generator. Its run time is
 * {@code 100 * (1 + CURVATURE * (du² + dv²))}, where du, dv are the two knobs' distances from the
 * optimum as fractions of their ranges.
 */
final class Bowl implements Objective {
    static final Knob LATENCY = new Knob("sched_latency_ns", 1_000_000, 41_000_000, 15_000_000, 21);
    static final Knob GRANULARITY = new Knob("sched_min_granularity_ns", 100_000, 4_100_000, 2_300_000, 21);
    /** Has no effect on the bowl: the filter must drop it. */
    static final Knob MIGRATION = new Knob("sched_migration_cost_ns", 0, 5_000_000, 500_000, 11);
    static final List<Knob> KNOBS = List.of(LATENCY, GRANULARITY, MIGRATION);

    /** The optimum's grid indexes: latency 25 ms, granularity 1.1 ms. */
    static final int BEST_LATENCY = 12;
    static final int BEST_GRANULARITY = 5;
    static final double CURVATURE = 4;
    static final double OPTIMUM = 100;

    private final SplittableRandom noise;
    private final double sigma;
    private final int samples;
    private int runs;

    Bowl(long seed, double sigma, int samples) {
        this.noise = new SplittableRandom(seed);
        this.sigma = sigma;
        this.samples = samples;
    }

    /** The noiseless run time of {@code settings}. */
    static double truth(Map<String, Long> settings) {
        double du = fraction(LATENCY, settings) - fraction(LATENCY, LATENCY.value(BEST_LATENCY));
        double dv = fraction(GRANULARITY, settings) - fraction(GRANULARITY, GRANULARITY.value(BEST_GRANULARITY));
        return OPTIMUM * (1 + CURVATURE * (du * du + dv * dv));
    }

    @Override
    public Measurement measure(Map<String, Long> settings) {
        runs++;
        double truth = truth(settings);
        List<Double> results = new ArrayList<>();
        for (int i = 0; i < samples; i++) {
            results.add(truth * (1 + sigma * noise.nextGaussian()));
        }
        return new Measurement(results);
    }

    @Override
    public String workload() {
        return "bowl sigma=" + sigma + " samples=" + samples;
    }

    /** How many measurements were asked for. */
    int runs() {
        return runs;
    }

    private static double fraction(Knob knob, Map<String, Long> settings) {
        return fraction(knob, settings.get(knob.name()));
    }

    private static double fraction(Knob knob, long value) {
        return (double) (value - knob.min()) / (knob.max() - knob.min());
    }
}
